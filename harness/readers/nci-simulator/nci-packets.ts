/**
 * The NCI packet layer as the controller simulator speaks it (NFC Forum NCI 1.0/2.0, the subset in
 * the shared contract): headers, message names, status codes and configuration parameter ids. This
 * is the NFCC side's own reading of the spec, written apart from the host driver's codec on purpose:
 * two independent readings meeting on a serial line are what makes the end-to-end test mean
 * something.
 */

import { hexByte } from '../../../iso7816/bytes.js';

/** Message type, bits 7–5 of the first header byte. */
export const kMt = { data: 0, command: 1, response: 2, notification: 3 } as const;
export type MessageType = (typeof kMt)[keyof typeof kMt];

export const kGid = { core: 0x0, rf: 0x1 } as const;

/** The messages of the contract, keyed as (GID << 8) | OID. */
export const kOp = {
  coreReset: 0x000,
  coreInit: 0x001,
  coreSetConfig: 0x002,
  coreGetConfig: 0x003,
  coreConnCredits: 0x006,
  coreGenericError: 0x007,
  coreInterfaceError: 0x008,
  rfDiscoverMap: 0x100,
  rfSetListenModeRouting: 0x101,
  rfDiscover: 0x103,
  rfIntfActivated: 0x105,
  rfDeactivate: 0x106,
  rfFieldInfo: 0x107,
} as const;

const kOpNames: Record<number, string> = {
  [kOp.coreReset]: 'CORE_RESET',
  [kOp.coreInit]: 'CORE_INIT',
  [kOp.coreSetConfig]: 'CORE_SET_CONFIG',
  [kOp.coreGetConfig]: 'CORE_GET_CONFIG',
  [kOp.coreConnCredits]: 'CORE_CONN_CREDITS',
  [kOp.coreGenericError]: 'CORE_GENERIC_ERROR',
  [kOp.coreInterfaceError]: 'CORE_INTERFACE_ERROR',
  [kOp.rfDiscoverMap]: 'RF_DISCOVER_MAP',
  [kOp.rfSetListenModeRouting]: 'RF_SET_LISTEN_MODE_ROUTING',
  [kOp.rfDiscover]: 'RF_DISCOVER',
  [kOp.rfIntfActivated]: 'RF_INTF_ACTIVATED',
  [kOp.rfDeactivate]: 'RF_DEACTIVATE',
  [kOp.rfFieldInfo]: 'RF_FIELD_INFO',
};

export const kStatus = {
  ok: 0x00,
  rejected: 0x01,
  failed: 0x03,
  syntaxError: 0x05,
  semanticError: 0x06,
  invalidParam: 0x09,
} as const;

/** Configuration parameters the simulator knows the length of (CORE_SET_CONFIG checks them). */
export const kParam = {
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

/** Exact lengths of the fixed-size parameters; the others may be any length up to 255. */
export const kParamLengths: ReadonlyMap<number, readonly number[]> = new Map([
  [kParam.laSelInfo, [1]],
  [kParam.laNfcid1, [4, 7, 10]],
  [kParam.lbSensbInfo, [1]],
  [kParam.lbNfcid0, [0, 4]],
  [kParam.lbApplicationData, [4]],
  [kParam.lbSfgi, [1]],
  [kParam.lbFwiAdcFo, [1]],
  [kParam.lbBitRate, [1]],
  [kParam.rfFieldInfo, [1]],
]);

/** RF technology and mode values of RF_DISCOVER / RF_INTF_ACTIVATED_NTF. */
export const kTechMode = { nfcAPassiveListen: 0x80, nfcBPassiveListen: 0x81 } as const;
export const kRfProtocol = { isoDep: 0x04 } as const;
export const kRfInterface = { frame: 0x01, isoDep: 0x02 } as const;

/** RF_DEACTIVATE types and the reasons of its notification. */
export const kDeactivateType = { idle: 0x00, sleep: 0x01, sleepAf: 0x02, discovery: 0x03 } as const;
export const kDeactivateReason = { dhRequest: 0x00, endpointRequest: 0x01, rfLinkLoss: 0x02, badAfi: 0x03 } as const;

/** RF_FIELD_INFO_NTF's field status. */
export const kFieldStatus = { off: 0x00, on: 0x01 } as const;

export interface NciPacket {
  mt: MessageType;
  /** Packet Boundary Flag: more segments of this message follow. */
  pbf: boolean;
  /** GID for control packets, ConnID for data packets. */
  gid: number;
  /** OID for control packets; 0 for data packets. */
  oid: number;
  payload: Uint8Array;
}

export function opName(gid: number, oid: number): string {
  return kOpNames[(gid << 8) | oid] ?? `GID ${gid} OID 0x${hexByte(oid)}`;
}

const kMtSuffix: Record<number, string> = { [kMt.command]: '_CMD', [kMt.response]: '_RSP', [kMt.notification]: '_NTF' };

/** "CORE_RESET_CMD", "DATA conn 0 (12 bytes)" — for logs and violation messages. */
export function describePacket(p: NciPacket): string {
  if (p.mt === kMt.data) return `DATA conn ${p.gid} (${p.payload.length} bytes${p.pbf ? ', more follow' : ''})`;
  return `${opName(p.gid, p.oid)}${kMtSuffix[p.mt] ?? '_?'}`;
}

/** One packet on the wire: the 3-byte header and its payload (at most 255 bytes). */
export function encodePacket(p: NciPacket): Uint8Array {
  if (p.payload.length > 255) throw new RangeError(`an NCI packet carries at most 255 payload bytes, not ${p.payload.length}`);
  const out = new Uint8Array(3 + p.payload.length);
  out[0] = (p.mt << 5) | (p.pbf ? 0x10 : 0) | (p.gid & 0x0f);
  out[1] = p.mt === kMt.data ? 0 : p.oid & 0x3f;
  out[2] = p.payload.length;
  out.set(p.payload, 3);
  return out;
}

/** A message as packets: segmented with PBF so that no payload exceeds `maxPayload`. */
export function segmentMessage(mt: MessageType, gid: number, oid: number, payload: Uint8Array, maxPayload: number): Uint8Array[] {
  const size = Math.max(1, Math.min(255, maxPayload));
  if (payload.length <= size) return [encodePacket({ mt, pbf: false, gid, oid, payload })];
  const packets: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += size) {
    const end = Math.min(payload.length, offset + size);
    packets.push(encodePacket({ mt, pbf: end < payload.length, gid, oid, payload: payload.subarray(offset, end) }));
  }
  return packets;
}

/** Reads the 3-byte header at the start of `bytes` (which must hold at least 3 bytes). */
export function readHeader(bytes: Uint8Array): { mt: number; pbf: boolean; gid: number; oid: number; length: number; rfu: number } {
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  return { mt: b0 >> 5, pbf: (b0 & 0x10) !== 0, gid: b0 & 0x0f, oid: b1 & 0x3f, length: bytes[2]!, rfu: b1 & 0xc0 };
}

/**
 * A count at `countAt`, then that many (Tag, Len, Value…) entries to the end of the payload:
 * CORE_SET_CONFIG's parameters, RF_SET_LISTEN_MODE_ROUTING's entries. Undefined when it does not add up.
 */
export function parseTlvList(payload: Uint8Array, countAt: number): Array<{ tag: number; value: Uint8Array }> | undefined {
  const count = payload[countAt];
  if (count === undefined) return undefined;
  const entries: Array<{ tag: number; value: Uint8Array }> = [];
  let offset = countAt + 1;
  for (let i = 0; i < count; i++) {
    const tag = payload[offset];
    const length = payload[offset + 1];
    if (tag === undefined || length === undefined || offset + 2 + length > payload.length) return undefined;
    entries.push({ tag, value: payload.slice(offset + 2, offset + 2 + length) });
    offset += 2 + length;
  }
  return offset === payload.length ? entries : undefined;
}
