/**
 * The simulated NFCC's RF commands: RF_DISCOVER_MAP and RF_SET_LISTEN_MODE_ROUTING (recorded),
 * RF_DISCOVER (listening; a reader already in the field activates the card in the same burst) and
 * RF_DEACTIVATE (to idle or back to discovery).
 */
import type { CommandHandler, CommandTable } from './command-context.js';
import { isInitialised, NciSimulatorError, type Activation } from './controller-types.js';
import { kDeactivateReason, kDeactivateType, kFieldStatus, kOp, kStatus, parseTlvList } from './nci-packets.js';
import { describeTechModes } from './rf-activation.js';

const rfDiscoverMap: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (sim.state() !== 'idle') return refuse(`in state ${sim.state()}: the RF state must be idle`);
  const count = payload[0];
  if (count === undefined || payload.length !== 1 + 3 * count) return respond([kStatus.syntaxError]);
  sim.nfcc.discoverMap = Array.from({ length: count }, (_, i) => ({ protocol: payload[1 + 3 * i]!, mode: payload[2 + 3 * i]!, rfInterface: payload[3 + 3 * i]! }));
  return respond([kStatus.ok]);
};

const rfSetListenModeRouting: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (!isInitialised(sim.state())) return refuse(`in state ${sim.state()}: the controller is not initialised`);
  // [More, NumEntries, (Type, Len, Value…)…]
  const entries = payload.length < 2 ? undefined : parseTlvList(payload, 1);
  if (!entries) return respond([kStatus.syntaxError]);
  sim.nfcc.routing = entries.map(({ tag, value }) => ({ type: tag, value }));
  return respond([kStatus.ok]);
};

const rfDiscover: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (sim.state() !== 'idle') return refuse(`in state ${sim.state()}: discovery starts from the idle RF state`);
  const count = payload[0];
  if (count === undefined || count === 0 || payload.length !== 1 + 2 * count) return respond([kStatus.syntaxError]);
  sim.nfcc.discoverConfigs = Array.from({ length: count }, (_, i) => ({ techMode: payload[1 + 2 * i]!, frequency: payload[2 + 2 * i]! }));
  const armed = sim.takeArmed();
  sim.setState('discovering');
  sim.log(`listening: ${describeTechModes(sim.nfcc.discoverConfigs)}`);
  if (!armed) return respond([kStatus.ok]);
  // A reader already in the field: the response, field on and the activation leave in one
  // burst, so that the DH reads them together.
  sim.cork();
  void respond([kStatus.ok]);
  let activation: Activation | undefined;
  let failure: Error | undefined;
  try {
    activation = await sim.activateNow();
  } catch (e) {
    failure = e as Error;
  }
  await sim.uncork();
  if (activation) armed.resolve(activation);
  else armed.reject(failure ?? new Error('no activation'));
};

const rfDeactivate: CommandHandler = async (sim, { payload, respond }) => {
  const type = payload[0];
  if (type === undefined || payload.length !== 1) return respond([kStatus.syntaxError]);
  if (sim.state() !== 'discovering' && sim.state() !== 'active') return respond([kStatus.semanticError]);
  const wasActive = sim.state() === 'active';
  if (wasActive) sim.endRf(new NciSimulatorError('DEACTIVATED', 'the DH deactivated the RF interface during the exchange'));
  sim.setState(type === kDeactivateType.idle ? 'idle' : 'discovering');
  await respond([kStatus.ok]);
  await sim.notify(kOp.rfDeactivate, [type, kDeactivateReason.dhRequest]);
  if (wasActive && sim.fieldInfo()) await sim.notify(kOp.rfFieldInfo, [kFieldStatus.off]);
};

export const kRfCommands: CommandTable = new Map([
  [kOp.rfDiscoverMap, rfDiscoverMap],
  [kOp.rfSetListenModeRouting, rfSetListenModeRouting],
  [kOp.rfDiscover, rfDiscover],
  [kOp.rfDeactivate, rfDeactivate],
]);
