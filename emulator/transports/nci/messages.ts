/**
 * The NCI messages a card-emulation host uses (the subset in docs/nci-bridge.md): identifiers,
 * payload builders for what the host sends, and parsers for what the controller answers, for
 * NCI 2.0 and the NCI 1.0 forms a PN7150 still speaks. Also where the card's Type B parameters
 * are read from its contactless ATR. Pure.
 */
import { hexByte, toHex } from '../../../iso7816/bytes.js';
import { carriesSecret, maskCommand } from '../../../iso7816/secret-mask.js';
import { kAtrPresets } from '../../issuance/card-definition.js';
import type { NciMessage, NciMessageType } from './packet.js';

export const kGid = { core: 0x0, rf: 0x1, nfcee: 0x2, proprietary: 0xf } as const;

export const kOid = {
  coreReset: 0x00,
  coreInit: 0x01,
  coreSetConfig: 0x02,
  coreConnCredits: 0x06,
  coreGenericError: 0x07,
  coreInterfaceError: 0x08,
  rfDiscoverMap: 0x00,
  rfSetListenModeRouting: 0x01,
  rfDiscover: 0x03,
  rfIntfActivated: 0x05,
  rfDeactivate: 0x06,
  rfFieldInfo: 0x07,
} as const;

export const kNciStatus = {
  ok: 0x00,
  rejected: 0x01,
  rfFrameCorrupted: 0x02,
  failed: 0x03,
  notInitialized: 0x04,
  syntaxError: 0x05,
  semanticError: 0x06,
  invalidParam: 0x09,
  messageSizeExceeded: 0x0a,
} as const;

const kStatusNames: Record<number, string> = {
  0x00: 'OK',
  0x01: 'REJECTED',
  0x02: 'RF_FRAME_CORRUPTED',
  0x03: 'FAILED',
  0x04: 'NOT_INITIALIZED',
  0x05: 'SYNTAX_ERROR',
  0x06: 'SEMANTIC_ERROR',
  0x07: 'UNKNOWN_GID',
  0x08: 'UNKNOWN_OID',
  0x09: 'INVALID_PARAM',
  0x0a: 'MESSAGE_SIZE_EXCEEDED',
  0xa0: 'DISCOVERY_ALREADY_STARTED',
  0xa1: 'DISCOVERY_TARGET_ACTIVATION_FAILED',
  0xa2: 'DISCOVERY_TEAR_DOWN',
  0xb0: 'RF_TRANSMISSION_ERROR',
  0xb1: 'RF_PROTOCOL_ERROR',
  0xb2: 'RF_TIMEOUT_ERROR',
};

/** A byte as NCI's specification writes it: '0x0A'. */
export const nciByte = (value: number): string => `0x${hexByte(value)}`;

export function describeStatus(status: number | undefined): string {
  if (status === undefined) return 'no status';
  return `${nciByte(status)} ${kStatusNames[status] ?? 'unknown status'}`;
}

/** Configuration parameters (CORE_SET_CONFIG) the host sets for listen-mode card emulation. */
export const kConfigParam = {
  laSelInfo: 0x32,
  laNfcid1: 0x33,
  lbSensbInfo: 0x38,
  lbNfcid0: 0x39,
  lbApplicationData: 0x3a,
  lbSfgi: 0x3b,
  lbFwiAdcFo: 0x3c,
  lbBitRate: 0x3e,
  liAHistBy: 0x59,
  liBHInfoResp: 0x5a,
  rfFieldInfo: 0x80,
} as const;

/**
 * Parameters a controller may refuse without harm to the served card: the field notifications
 * only feed the log, and the others have working defaults in every controller.
 */
export const kOptionalConfigParams: ReadonlySet<number> = new Set([
  kConfigParam.rfFieldInfo,
  kConfigParam.lbSfgi,
  kConfigParam.lbBitRate,
  kConfigParam.liBHInfoResp,
]);

export const kRfProtocolIsoDep = 0x04;
export const kRfInterfaceIsoDep = 0x02;
export const kRfInterfaceFrame = 0x01;
export const kDiscoverMapModeListen = 0x02;
export const kNfcBPassiveListen = 0x81;
export const kNfcAPassiveListen = 0x80;
export const kRfTechnologyA = 0x00;
export const kRfTechnologyB = 0x01;
export const kNfceeDh = 0x00;
export const kPowerStateSwitchedOn = 0x01;
export const kStaticRfConnId = 0x00;
/** Initial credits of 0xFF: the controller does not use data flow control on this connection. */
export const kCreditsFlowControlOff = 0xff;

export const kDeactivationType = { idle: 0x00, sleep: 0x01, sleepAf: 0x02, discovery: 0x03 } as const;
const kDeactivationTypeNames = ['idle', 'sleep', 'sleep AF', 'discovery'];
const kDeactivationReasonNames = ['DH request', 'endpoint request', 'RF link loss', 'NFC-B bad AFI', 'DH request failed'];
const kResetTriggerNames: Record<number, string> = { 0x00: 'unrecoverable error', 0x01: 'power on', 0x02: 'CORE_RESET_CMD' };
const kInterfaceNames: Record<number, string> = { 0x00: 'NFCEE Direct', 0x01: 'Frame', 0x02: 'ISO-DEP', 0x03: 'NFC-DEP', 0x06: 'NDEF' };

export const describeDeactivationType = (type: number): string => kDeactivationTypeNames[type] ?? nciByte(type);
export const describeDeactivationReason = (reason: number): string => kDeactivationReasonNames[reason] ?? nciByte(reason);
export const describeResetTrigger = (trigger: number): string => kResetTriggerNames[trigger] ?? `trigger ${nciByte(trigger)}`;
export const describeInterface = (id: number): string => kInterfaceNames[id] ?? (id >= 0x80 ? `proprietary ${nciByte(id)}` : nciByte(id));

export function describeNciVersion(version: number): string {
  return `${version >> 4}.${version & 0x0f}`;
}

const kNames: Record<string, string> = {
  '0/0': 'CORE_RESET',
  '0/1': 'CORE_INIT',
  '0/2': 'CORE_SET_CONFIG',
  '0/3': 'CORE_GET_CONFIG',
  '0/4': 'CORE_CONN_CREATE',
  '0/5': 'CORE_CONN_CLOSE',
  '0/6': 'CORE_CONN_CREDITS',
  '0/7': 'CORE_GENERIC_ERROR',
  '0/8': 'CORE_INTERFACE_ERROR',
  '1/0': 'RF_DISCOVER_MAP',
  '1/1': 'RF_SET_LISTEN_MODE_ROUTING',
  '1/2': 'RF_GET_LISTEN_MODE_ROUTING',
  '1/3': 'RF_DISCOVER',
  '1/4': 'RF_DISCOVER_SELECT',
  '1/5': 'RF_INTF_ACTIVATED',
  '1/6': 'RF_DEACTIVATE',
  '1/7': 'RF_FIELD_INFO',
};
const kSuffix: Record<Exclude<NciMessageType, 'data'>, string> = { command: 'CMD', response: 'RSP', notification: 'NTF' };

/** "CORE_RESET_RSP", "RF_INTF_ACTIVATED_NTF", "GID 15 OID 2 NTF". */
export function messageName(mt: Exclude<NciMessageType, 'data'>, gid: number, oid: number): string {
  const base = kNames[`${gid}/${oid}`];
  return base ? `${base}_${kSuffix[mt]}` : `GID ${gid} OID ${oid} ${kSuffix[mt]}`;
}

/** A message in one line for logs: name and payload in hex. */
export function describeMessage(message: NciMessage): string {
  const payload = message.payload.length > 32 ? `${toHex(message.payload.subarray(0, 32))}… (${message.payload.length} bytes)` : toHex(message.payload);
  // A data message carries C-APDUs: a VERIFY's PIN must not reach the log.
  if (message.mt === 'data') return `DATA conn ${message.connId} ${carriesSecret(message.payload) ? maskCommand(message.payload) : payload}`;
  return `${messageName(message.mt, message.gid, message.oid)} ${payload}`.trimEnd();
}

export class NciFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NciFormatError';
  }
}

class Reader {
  private _offset = 0;
  constructor(
    private readonly _bytes: Uint8Array,
    private readonly _what: string,
  ) {}

  u8(): number {
    const value = this._bytes[this._offset];
    if (value === undefined) throw new NciFormatError(`${this._what} ends early (${this._bytes.length} bytes: ${toHex(this._bytes)})`);
    this._offset++;
    return value;
  }

  u16le(): number {
    const lo = this.u8();
    return lo | (this.u8() << 8);
  }

  bytes(n: number): Uint8Array {
    if (this._offset + n > this._bytes.length) throw new NciFormatError(`${this._what} ends early (${this._bytes.length} bytes: ${toHex(this._bytes)})`);
    const out = this._bytes.slice(this._offset, this._offset + n);
    this._offset += n;
    return out;
  }

  get rest(): number {
    return this._bytes.length - this._offset;
  }
}

// --- What the host sends ---------------------------------------------------------------------

/** CORE_RESET_CMD: reset the configuration too, so that nothing from an earlier session lingers. */
export const kCoreResetResetConfig = 0x01;

export function coreInitPayload(nciVersion: number): Uint8Array {
  return nciVersion >= 0x20 ? Uint8Array.of(0x00, 0x00) : new Uint8Array(0);
}

export interface ConfigParam {
  id: number;
  value: Uint8Array;
}

export function setConfigPayload(params: readonly ConfigParam[]): Uint8Array {
  const parts: number[] = [params.length];
  for (const p of params) {
    if (p.value.length > 255) throw new RangeError(`config parameter ${nciByte(p.id)} is ${p.value.length} bytes long`);
    parts.push(p.id, p.value.length, ...p.value);
  }
  return Uint8Array.from(parts);
}

export type NfcTechnology = 'A' | 'B';

/** RF_DISCOVER_MAP_CMD: ISO-DEP in listen mode goes through the ISO-DEP RF interface. */
export function discoverMapPayload(): Uint8Array {
  return Uint8Array.of(1, kRfProtocolIsoDep, kDiscoverMapModeListen, kRfInterfaceIsoDep);
}

/** RF_SET_LISTEN_MODE_ROUTING_CMD: ISO-DEP, and each listened technology, routed to the host. */
export function listenRoutingPayload(technologies: readonly NfcTechnology[]): Uint8Array {
  const entries: number[][] = [[0x01, 3, kNfceeDh, kPowerStateSwitchedOn, kRfProtocolIsoDep]];
  if (technologies.includes('B')) entries.push([0x00, 3, kNfceeDh, kPowerStateSwitchedOn, kRfTechnologyB]);
  if (technologies.includes('A')) entries.push([0x00, 3, kNfceeDh, kPowerStateSwitchedOn, kRfTechnologyA]);
  return Uint8Array.from([0x00, entries.length, ...entries.flat()]);
}

/** RF_DISCOVER_CMD: listen for NFC-B (and NFC-A), every discovery period. */
export function discoverPayload(technologies: readonly NfcTechnology[]): Uint8Array {
  const configs: number[] = [];
  if (technologies.includes('B')) configs.push(kNfcBPassiveListen, 0x01);
  if (technologies.includes('A')) configs.push(kNfcAPassiveListen, 0x01);
  return Uint8Array.from([configs.length / 2, ...configs]);
}

// --- The card's Type B parameters ---------------------------------------------------------------

export interface TypeBParameters {
  /** The 4 Application Data bytes of ATQB. */
  applicationData: Uint8Array;
  /** The 3 Protocol Info bytes of ATQB: bit rates, max frame size | protocol type, FWI | ADC | FO. */
  protocolInfo: Uint8Array;
  /** The historical bytes of the ATR (for NFC-A: the ATS carries them, so a reader builds the same ATR). */
  historicalBytes: Uint8Array;
}

/**
 * Reads ATQB's Application Data and Protocol Info back from a contactless ATR as PC/SC part 3
 * builds it for a Type B card: `3B 8n 80 01 | Application Data (4) | Protocol Info (3) | MBLI/CID | TCK`.
 * Undefined when the ATR has another form (a contact ATR).
 */
export function typeBParametersFromAtr(atr: Uint8Array): TypeBParameters | undefined {
  if (atr.length < 5 || atr[0] !== 0x3b || (atr[1]! & 0xf0) !== 0x80 || atr[2] !== 0x80 || atr[3] !== 0x01) return undefined;
  const k = atr[1]! & 0x0f;
  if (atr.length !== 4 + k + 1 || k < 7) return undefined;
  let check = 0;
  for (let i = 1; i < atr.length; i++) check ^= atr[i]!;
  if (check !== 0) return undefined;
  const historical = atr.slice(4, 4 + k);
  return { applicationData: historical.slice(0, 4), protocolInfo: historical.slice(4, 7), historicalBytes: historical };
}

export function defaultTypeBParameters(): TypeBParameters {
  return typeBParametersFromAtr(Buffer.from(kAtrPresets.contactless, 'hex'))!;
}

export interface ListenConfigOptions {
  technologies: readonly NfcTechnology[];
  typeB: TypeBParameters;
  /** NFCID0 (the PUPI), 4 bytes. */
  pupi: Uint8Array;
  /** NFCID1 for NFC-A, 4 bytes. */
  nfcid1: Uint8Array;
}

/**
 * LB_BIT_RATE for Protocol Info byte 1 (the bit-rate capability): the highest rate it names in
 * either direction, 0 = 106, 1 = 212, 2 = 424, 3 = 848 kbit/s. B3 (the card's) gives 424.
 */
export function lbBitRate(bitRateCapability: number): number {
  if (bitRateCapability & 0x44) return 0x03;
  if (bitRateCapability & 0x22) return 0x02;
  if (bitRateCapability & 0x11) return 0x01;
  return 0x00;
}

/**
 * The CORE_SET_CONFIG parameters, in this order: LB_SENSB_INFO (ISO-DEP), LB_NFCID0 (the PUPI),
 * LB_APPLICATION_DATA, LB_SFGI (0), LB_FWI_ADC_FO (Protocol Info byte 3), LB_BIT_RATE (from
 * Protocol Info byte 1), LI_B_H_INFO_RESP (empty); with NFC-A, LA_SEL_INFO (ISO-DEP), LA_NFCID1, LI_A_HIST_BY (the ATR's historical bytes);
 * then RF_FIELD_INFO (notify field changes).
 */
export function listenConfigParams(options: ListenConfigOptions): ConfigParam[] {
  const { typeB } = options;
  const params: ConfigParam[] = [];
  if (options.technologies.includes('B')) {
    params.push(
      // Bit 0: ISO-DEP. The card is an ISO 14443-4 card whatever Protocol_Type its ATR claims.
      { id: kConfigParam.lbSensbInfo, value: Uint8Array.of(0x01) },
      { id: kConfigParam.lbNfcid0, value: options.pupi },
      { id: kConfigParam.lbApplicationData, value: typeB.applicationData },
      // SFGI lives in the extended ATQB, which a 3-byte Protocol Info does not have: no extra guard time.
      { id: kConfigParam.lbSfgi, value: Uint8Array.of(0x00) },
      { id: kConfigParam.lbFwiAdcFo, value: typeB.protocolInfo.slice(2, 3) },
      // A controller that does not know it refuses it alone and decides the bit rates itself.
      { id: kConfigParam.lbBitRate, value: Uint8Array.of(lbBitRate(typeB.protocolInfo[0] ?? 0)) },
      { id: kConfigParam.liBHInfoResp, value: new Uint8Array(0) },
    );
  }
  if (options.technologies.includes('A')) {
    params.push(
      { id: kConfigParam.laSelInfo, value: Uint8Array.of(0x20) },
      { id: kConfigParam.laNfcid1, value: options.nfcid1 },
      { id: kConfigParam.liAHistBy, value: typeB.historicalBytes },
    );
  }
  params.push({ id: kConfigParam.rfFieldInfo, value: Uint8Array.of(0x01) });
  return params;
}

// --- What the controller answers ----------------------------------------------------------------

export interface CoreResetResult {
  status: number;
  /** NCI version: 0x10, 0x11 or 0x20 (from the RSP in NCI 1.x, from the NTF in 2.0). */
  nciVersion?: number;
  configStatus?: number;
}

/** CORE_RESET_RSP: `[Status]` in NCI 2.0, `[Status, NciVersion, ConfigStatus]` in NCI 1.x. */
export function parseCoreResetResponse(payload: Uint8Array): CoreResetResult {
  const r = new Reader(payload, 'CORE_RESET_RSP');
  const status = r.u8();
  if (r.rest >= 2) return { status, nciVersion: r.u8(), configStatus: r.u8() };
  return { status };
}

export interface CoreResetNotification {
  trigger: number;
  configStatus: number;
  nciVersion: number;
  manufacturerId: number;
  manufacturerInfo: Uint8Array;
}

export function parseCoreResetNotification(payload: Uint8Array): CoreResetNotification {
  const r = new Reader(payload, 'CORE_RESET_NTF');
  const trigger = r.u8();
  const configStatus = r.u8();
  const nciVersion = r.u8();
  const manufacturerId = r.u8();
  const infoLength = r.u8();
  return { trigger, configStatus, nciVersion, manufacturerId, manufacturerInfo: r.bytes(Math.min(infoLength, r.rest)) };
}

export interface CoreInitResult {
  status: number;
  features: Uint8Array;
  maxLogicalConnections: number;
  maxRoutingTableSize: number;
  maxControlPayload: number;
  /** RF interfaces the controller supports. */
  interfaces: number[];
  /** NCI 2.0: the static HCI connection's max data payload and credits. */
  maxHciDataPayload?: number;
  hciCredits?: number;
  /** NCI 1.x: the manufacturer fields come in CORE_INIT_RSP. */
  maxLargeParams?: number;
  manufacturerId?: number;
  manufacturerInfo?: Uint8Array;
}

export function parseCoreInitResponse(payload: Uint8Array, nciVersion: number): CoreInitResult {
  const r = new Reader(payload, 'CORE_INIT_RSP');
  const status = r.u8();
  if (status !== kNciStatus.ok) return { status, features: new Uint8Array(0), maxLogicalConnections: 0, maxRoutingTableSize: 0, maxControlPayload: 0, interfaces: [] };
  const features = r.bytes(4);
  if (nciVersion >= 0x20) {
    const maxLogicalConnections = r.u8();
    const maxRoutingTableSize = r.u16le();
    const maxControlPayload = r.u8();
    const maxHciDataPayload = r.u8();
    const hciCredits = r.u8();
    r.u16le(); // max NFC-V frame size
    const count = r.u8();
    const interfaces: number[] = [];
    for (let i = 0; i < count; i++) {
      interfaces.push(r.u8());
      r.bytes(r.u8());
    }
    return { status, features, maxLogicalConnections, maxRoutingTableSize, maxControlPayload, interfaces, maxHciDataPayload, hciCredits };
  }
  const count = r.u8();
  const interfaces = [...r.bytes(count)];
  const maxLogicalConnections = r.u8();
  const maxRoutingTableSize = r.u16le();
  const maxControlPayload = r.u8();
  const maxLargeParams = r.u16le();
  const manufacturerId = r.u8();
  const manufacturerInfo = r.bytes(Math.min(4, r.rest));
  return { status, features, maxLogicalConnections, maxRoutingTableSize, maxControlPayload, interfaces, maxLargeParams, manufacturerId, manufacturerInfo };
}

export interface SetConfigResult {
  status: number;
  invalid: number[];
}

export function parseSetConfigResponse(payload: Uint8Array): SetConfigResult {
  const r = new Reader(payload, 'CORE_SET_CONFIG_RSP');
  const status = r.u8();
  const count = r.rest > 0 ? r.u8() : 0;
  return { status, invalid: [...r.bytes(Math.min(count, r.rest))] };
}

export interface Activation {
  discoveryId: number;
  rfInterface: number;
  rfProtocol: number;
  /** RF technology and mode of the activation: 0x81 listen B, 0x80 listen A. */
  techAndMode: number;
  maxDataPayload: number;
  /** Initial credits for the static RF connection; 0xFF means no flow control. */
  initialCredits: number;
  techParams: Uint8Array;
  dataExchangeTechAndMode: number;
  txBitRate: number;
  rxBitRate: number;
  /** For listen B: the higher-layer info of ATTRIB as the reader sent it; for listen A: RATS. */
  activationParams: Uint8Array;
}

export function parseActivation(payload: Uint8Array): Activation {
  const r = new Reader(payload, 'RF_INTF_ACTIVATED_NTF');
  const discoveryId = r.u8();
  const rfInterface = r.u8();
  const rfProtocol = r.u8();
  const techAndMode = r.u8();
  const maxDataPayload = r.u8();
  const initialCredits = r.u8();
  const techParams = r.bytes(r.u8());
  // NCI 1.0 controllers have been seen to end the notification here; take what is there.
  const dataExchangeTechAndMode = r.rest > 0 ? r.u8() : techAndMode;
  const txBitRate = r.rest > 0 ? r.u8() : 0;
  const rxBitRate = r.rest > 0 ? r.u8() : 0;
  const activationParams = r.rest > 0 ? r.bytes(Math.min(r.u8(), r.rest)) : new Uint8Array(0);
  return { discoveryId, rfInterface, rfProtocol, techAndMode, maxDataPayload, initialCredits, techParams, dataExchangeTechAndMode, txBitRate, rxBitRate, activationParams };
}

/** CORE_CONN_CREDITS_NTF: credits per connection. */
export function parseCredits(payload: Uint8Array): { connId: number; credits: number }[] {
  const r = new Reader(payload, 'CORE_CONN_CREDITS_NTF');
  const count = r.u8();
  const out: { connId: number; credits: number }[] = [];
  for (let i = 0; i < count && r.rest >= 2; i++) out.push({ connId: r.u8() & 0x0f, credits: r.u8() });
  return out;
}

/** Manufacturer ids are IC manufacturer codes (ISO/IEC 7816-6); the ones a bench is likely to meet. */
export function describeManufacturer(id: number): string {
  const known: Record<number, string> = { 0x02: 'STMicroelectronics', 0x04: 'NXP', 0x05: 'Infineon' };
  return known[id] ? `${nciByte(id)} (${known[id]})` : nciByte(id);
}

/** What CORE_RESET and CORE_INIT tell about a controller. */
export interface NciControllerInfo {
  nciVersion: number;
  manufacturerId: number;
  manufacturerInfo: Uint8Array;
  /** NCI 2.0: why the controller reset (from CORE_RESET_NTF). */
  resetTrigger?: number;
  configStatus?: number;
  features: Uint8Array;
  maxLogicalConnections: number;
  maxRoutingTableSize: number;
  maxControlPayload: number;
  /** NCI 2.0: the static HCI connection's max data payload. */
  maxHciDataPayload?: number;
  interfaces: number[];
}

export function controllerInfo(reset: CoreResetResult, notification: CoreResetNotification | undefined, init: CoreInitResult): NciControllerInfo {
  const nciVersion = notification?.nciVersion ?? reset.nciVersion ?? 0;
  const configStatus = notification?.configStatus ?? reset.configStatus;
  return {
    nciVersion,
    manufacturerId: notification?.manufacturerId ?? init.manufacturerId ?? 0,
    manufacturerInfo: notification?.manufacturerInfo ?? init.manufacturerInfo ?? new Uint8Array(0),
    ...(notification ? { resetTrigger: notification.trigger } : {}),
    ...(configStatus !== undefined ? { configStatus } : {}),
    features: init.features,
    maxLogicalConnections: init.maxLogicalConnections,
    maxRoutingTableSize: init.maxRoutingTableSize,
    maxControlPayload: init.maxControlPayload,
    ...(init.maxHciDataPayload !== undefined ? { maxHciDataPayload: init.maxHciDataPayload } : {}),
    interfaces: init.interfaces,
  };
}

/** One line: "NCI 2.0, manufacturer 0x04 (NXP), max control payload 255, RF interfaces Frame, ISO-DEP". */
export function describeController(info: NciControllerInfo): string {
  return [
    `NCI ${describeNciVersion(info.nciVersion)}`,
    `manufacturer ${describeManufacturer(info.manufacturerId)}${info.manufacturerInfo.length > 0 ? ` (info ${toHex(info.manufacturerInfo)})` : ''}`,
    `max control payload ${info.maxControlPayload}`,
    `RF interfaces ${info.interfaces.map(describeInterface).join(', ') || 'none'}`,
  ].join(', ');
}
