/**
 * The simulated NFCC's core commands: CORE_RESET (with CORE_RESET_NTF in NCI 2.0), CORE_INIT in
 * either NCI version's layout, CORE_SET_CONFIG (lengths checked) and CORE_GET_CONFIG.
 */
import { hexByte, toHex } from '../../../iso7816/bytes.js';
import type { CommandHandler, CommandTable } from './command-context.js';
import { isInitialised, NciSimulatorError } from './controller-types.js';
import { kOp, kParamLengths, kRfInterface, kStatus, parseTlvList } from './nci-packets.js';

export const kManufacturerId = 0x00;
/** CORE_RESET_CMD's Reset Type, and CORE_RESET's Configuration Status: configuration reset (01) or kept (00). */
const kResetConfig = 0x01;
const kKeepConfig = 0x00;
/** CORE_RESET_NTF's Reset Trigger: the reset was asked for by CORE_RESET_CMD. */
const kTriggerResetCommand = 0x02;
const kNci10 = 0x10;
const kNci20 = 0x20;

const coreReset: CommandHandler = async (sim, { payload, respond }) => {
  if (payload.length !== 1) return respond([kStatus.syntaxError]);
  const resetConfig = payload[0] === kResetConfig;
  sim.endRf(new NciSimulatorError('RESET', 'the DH reset the controller during the exchange'));
  if (resetConfig) sim.forgetConfiguration();
  sim.setState('reset');
  sim.log(`CORE_RESET (${resetConfig ? 'reset configuration' : 'keep configuration'})`);
  const configStatus = resetConfig ? kResetConfig : kKeepConfig;
  if (sim.nfcc.nciVersion === '1.0') return respond([kStatus.ok, kNci10, configStatus]);
  await respond([kStatus.ok]);
  return sim.notify(kOp.coreReset, [kTriggerResetCommand, configStatus, kNci20, kManufacturerId, 0x00]);
};

const coreInit: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (sim.state() !== 'reset' && sim.state() !== 'powered') return refuse(`in state ${sim.state()}: CORE_INIT follows a reset`);
  const wanted = sim.nfcc.nciVersion === '2.0' ? 2 : 0;
  if (payload.length !== wanted) {
    sim.violation(`CORE_INIT_CMD with ${payload.length} payload byte(s) to an NCI ${sim.nfcc.nciVersion} controller (it takes ${wanted})`);
    return respond([kStatus.syntaxError]);
  }
  sim.setState('idle');
  const interfaces = [kRfInterface.frame, kRfInterface.isoDep];
  if (sim.nfcc.nciVersion === '2.0') {
    return respond([
      kStatus.ok,
      0x00, 0x0e, 0x00, 0x00, // features: technology-, protocol- and AID-based listen routing
      0x01, // max logical connections
      0x00, 0x02, // max routing table size (LE): 512
      sim.nfcc.maxControlPayload,
      0xff, // max static HCI data packet payload
      0x01, // static HCI credits
      0x00, 0x01, // max NFC-V frame (LE)
      interfaces.length,
      ...interfaces.flatMap((i) => [i, 0x00]),
    ]);
  }
  return respond([
    kStatus.ok,
    0x00, 0x0e, 0x00, 0x00,
    interfaces.length,
    ...interfaces,
    0x01, // max logical connections
    0x00, 0x02, // max routing table size (LE)
    sim.nfcc.maxControlPayload,
    0x00, 0x04, // max size of large parameters (LE)
    kManufacturerId,
    0x00, 0x00, 0x00, 0x00, // manufacturer info
  ]);
};

const coreSetConfig: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (!isInitialised(sim.state())) return refuse(`in state ${sim.state()}: the controller is not initialised`);
  // [NumParams, (Id, Len, Value…)…]
  const parsed = parseTlvList(payload, 0)?.map(({ tag, value }) => ({ id: tag, value }));
  if (!parsed) return respond([kStatus.syntaxError]);
  const invalid = parsed.filter((p) => {
    const lengths = kParamLengths.get(p.id);
    return lengths !== undefined && !lengths.includes(p.value.length);
  });
  for (const p of parsed) if (!invalid.includes(p)) sim.nfcc.config.set(p.id, p.value);
  sim.log(`CORE_SET_CONFIG ${parsed.map((p) => `${hexByte(p.id)}=${toHex(p.value) || '(empty)'}`).join(' ')}`);
  if (invalid.length > 0) return respond([kStatus.invalidParam, invalid.length, ...invalid.map((p) => p.id)]);
  return respond([kStatus.ok, 0x00]);
};

const coreGetConfig: CommandHandler = async (sim, { payload, respond, refuse }) => {
  if (!isInitialised(sim.state())) return refuse(`in state ${sim.state()}: the controller is not initialised`);
  const count = payload[0];
  if (count === undefined || payload.length !== 1 + count) return respond([kStatus.syntaxError]);
  const ids = [...payload.subarray(1)];
  const unknown = ids.filter((id) => !sim.nfcc.config.has(id));
  if (unknown.length > 0) return respond([kStatus.invalidParam, unknown.length, ...unknown.flatMap((id) => [id, 0x00])]);
  return respond([kStatus.ok, ids.length, ...ids.flatMap((id) => [id, sim.nfcc.config.get(id)!.length, ...sim.nfcc.config.get(id)!])]);
};

export const kCoreCommands: CommandTable = new Map([
  [kOp.coreReset, coreReset],
  [kOp.coreInit, coreInit],
  [kOp.coreSetConfig, coreSetConfig],
  [kOp.coreGetConfig, coreGetConfig],
]);

/** The unsolicited CORE_RESET_NTF of a controller that reset itself (power on, or an unrecoverable error). */
export function spontaneousResetPayload(nciVersion: '1.0' | '2.0', trigger: 'unrecoverable-error' | 'power-on'): number[] {
  const triggerCode = trigger === 'power-on' ? 0x01 : 0x00;
  return nciVersion === '2.0' ? [triggerCode, kResetConfig, kNci20, kManufacturerId, 0x00] : [triggerCode, kResetConfig];
}
