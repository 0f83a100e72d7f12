/**
 * The initialisation's configuration steps, in the order of docs/nci-bridge.md: CORE_RESET (and,
 * in NCI 2.0, its CORE_RESET_NTF), CORE_INIT, CORE_SET_CONFIG with the listen parameters,
 * RF_DISCOVER_MAP and RF_SET_LISTEN_MODE_ROUTING. What is left, RF_DISCOVER, depends on whether
 * the card is in the field.
 */
import { randomBytes } from 'node:crypto';
import type { CommandChannel } from './command-channel.js';
import { NciHostError } from './host-errors.js';
import {
  controllerInfo,
  coreInitPayload,
  describeInterface,
  describeStatus,
  discoverMapPayload,
  kCoreResetResetConfig,
  kGid,
  kNciStatus,
  kOid,
  kOptionalConfigParams,
  kRfInterfaceIsoDep,
  listenConfigParams,
  listenRoutingPayload,
  nciByte,
  parseCoreInitResponse,
  parseCoreResetResponse,
  parseSetConfigResponse,
  setConfigPayload,
  type CoreResetNotification,
  type NciControllerInfo,
  type NfcTechnology,
  type TypeBParameters,
} from './messages.js';

export interface ConfigureContext {
  channel: CommandChannel;
  address: string;
  technologies: readonly NfcTechnology[];
  typeB: TypeBParameters;
  /** NFCID0 and NFCID1 as the options give them; random when not. */
  pupi?: Uint8Array | undefined;
  nfcid1?: Uint8Array | undefined;
  log(line: string): void;
  /** CORE_INIT told what the controller is: from here on, control packets respect its max payload. */
  identified(info: NciControllerInfo): void;
}

/** Resets, initialises and configures the controller for listen-mode ISO-DEP; resolves with what it said about itself. */
export async function configureController(epoch: number, ctx: ConfigureContext): Promise<NciControllerInfo> {
  const { channel } = ctx;

  // CORE_RESET: NCI 2.0 answers [Status] then CORE_RESET_NTF; NCI 1.x answers [Status, Version, ConfigStatus].
  const ntf = channel.expectResetNotification();
  const reset = parseCoreResetResponse(await channel.command(epoch, kGid.core, kOid.coreReset, [kCoreResetResetConfig]));
  if (reset.status !== kNciStatus.ok) throw new NciHostError(`CORE_RESET answered ${describeStatus(reset.status)}`);
  let notification: CoreResetNotification | undefined = ntf.received();
  if (reset.nciVersion !== undefined) ntf.forget();
  else if (!notification) notification = await ntf.wait();
  const nciVersion = notification?.nciVersion ?? reset.nciVersion ?? 0x20;

  const init = parseCoreInitResponse(await channel.command(epoch, kGid.core, kOid.coreInit, coreInitPayload(nciVersion)), nciVersion);
  if (init.status !== kNciStatus.ok) throw new NciHostError(`CORE_INIT answered ${describeStatus(init.status)}`);
  const info = controllerInfo(reset, notification, init);
  if (!info.interfaces.includes(kRfInterfaceIsoDep)) {
    throw new NciHostError(`the NFC controller on ${ctx.address} offers no ISO-DEP RF interface (it lists ${info.interfaces.map(describeInterface).join(', ') || 'none'}): it cannot serve a card`, true);
  }
  ctx.identified(info);

  const params = listenConfigParams({
    technologies: ctx.technologies,
    typeB: ctx.typeB,
    pupi: ctx.pupi ?? Uint8Array.from(randomBytes(4)),
    nfcid1: ctx.nfcid1 ?? Uint8Array.from([0x08, ...randomBytes(3)]),
  });
  const config = parseSetConfigResponse(await channel.command(epoch, kGid.core, kOid.coreSetConfig, setConfigPayload(params)));
  if (config.status !== kNciStatus.ok) {
    const refused = config.invalid.map(nciByte).join(', ');
    if (config.status === kNciStatus.invalidParam && config.invalid.length > 0 && config.invalid.every((id) => kOptionalConfigParams.has(id))) {
      ctx.log(`the NFC controller refused configuration parameter(s) ${refused}; going on without them`);
    } else {
      throw new NciHostError(`CORE_SET_CONFIG answered ${describeStatus(config.status)}${refused ? ` (refused: ${refused})` : ''}`);
    }
  }
  await channel.okCommand(epoch, kGid.rf, kOid.rfDiscoverMap, discoverMapPayload());
  await channel.okCommand(epoch, kGid.rf, kOid.rfSetListenModeRouting, listenRoutingPayload(ctx.technologies));
  return info;
}
