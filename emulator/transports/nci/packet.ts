/**
 * NCI packets on a byte stream: the 3-byte header (MT | PBF | GID or ConnID, OID, length), control
 * and data packets, segmentation with the packet boundary flag, and an incremental parser that
 * turns bytes into whole messages. A serial link carries packets back to back with no other
 * framing, so the parser is also where a garbled stream shows: an impossible header, a data packet
 * for a connection that does not exist, a segment that does not continue the message before it, or
 * a packet whose announced length never arrives (the caller's silence timer calls `expire`).
 * Pure: no I/O, no timers.
 */
import { toHex } from '../../../iso7816/bytes.js';

export type NciMessageType = 'data' | 'command' | 'response' | 'notification';

const kMtCode: Record<NciMessageType, number> = { data: 0, command: 1, response: 2, notification: 3 };
const kMtName: readonly NciMessageType[] = ['data', 'command', 'response', 'notification'];

export const kNciHeaderLength = 3;
export const kNciMaxPayload = 255;

export interface NciControlMessage {
  mt: 'command' | 'response' | 'notification';
  gid: number;
  oid: number;
  payload: Uint8Array;
}

export interface NciDataMessage {
  mt: 'data';
  connId: number;
  payload: Uint8Array;
}

export type NciMessage = NciControlMessage | NciDataMessage;

/** One packet as it travels: a whole message or one segment of it. */
export interface NciPacket {
  mt: NciMessageType;
  /** Packet boundary flag: more segments of this message follow. */
  pbf: boolean;
  /** GID for control packets, ConnID for data packets. */
  id: number;
  /** OID for control packets, 0 for data packets. */
  oid: number;
  payload: Uint8Array;
}

export function encodePacket(packet: NciPacket): Uint8Array {
  if (packet.payload.length > kNciMaxPayload) throw new RangeError(`an NCI packet carries at most ${kNciMaxPayload} payload bytes, not ${packet.payload.length}`);
  if (packet.id < 0 || packet.id > 0x0f) throw new RangeError(`GID/ConnID ${packet.id} does not fit in 4 bits`);
  if (packet.oid < 0 || packet.oid > 0x3f) throw new RangeError(`OID ${packet.oid} does not fit in 6 bits`);
  const out = new Uint8Array(kNciHeaderLength + packet.payload.length);
  out[0] = (kMtCode[packet.mt] << 5) | (packet.pbf ? 0x10 : 0) | packet.id;
  out[1] = packet.mt === 'data' ? 0 : packet.oid;
  out[2] = packet.payload.length;
  out.set(packet.payload, kNciHeaderLength);
  return out;
}

/**
 * Encodes a message as packets, segmented so that no packet carries more than `maxPayload` bytes
 * (PBF set on all segments but the last). An empty message is one empty packet.
 */
export function encodeMessage(message: NciMessage, maxPayload = kNciMaxPayload): Uint8Array[] {
  if (!Number.isInteger(maxPayload) || maxPayload < 1 || maxPayload > kNciMaxPayload) throw new RangeError(`max payload must be 1–${kNciMaxPayload}, not ${maxPayload}`);
  const id = message.mt === 'data' ? message.connId : message.gid;
  const oid = message.mt === 'data' ? 0 : message.oid;
  const packets: Uint8Array[] = [];
  const { payload } = message;
  let offset = 0;
  do {
    const end = Math.min(offset + maxPayload, payload.length);
    packets.push(encodePacket({ mt: message.mt, pbf: end < payload.length, id, oid, payload: payload.subarray(offset, end) }));
    offset = end;
  } while (offset < payload.length);
  return packets;
}

export const controlMessage = (mt: NciControlMessage['mt'], gid: number, oid: number, payload: ArrayLike<number> = []): NciControlMessage => ({
  mt,
  gid,
  oid,
  payload: Uint8Array.from(payload),
});

export const dataMessage = (connId: number, payload: ArrayLike<number>): NciDataMessage => ({ mt: 'data', connId, payload: Uint8Array.from(payload) });

/** Concatenates encoded packets: what goes on the wire for a message. */
export function encodeMessageBytes(message: NciMessage, maxPayload = kNciMaxPayload): Uint8Array {
  return Buffer.concat(encodeMessage(message, maxPayload));
}

export type NciParserEvent =
  | { kind: 'message'; message: NciMessage }
  | {
      kind: 'garbled';
      /** Why the bytes cannot be NCI, in words for a log line. */
      reason: string;
      /** How many bytes were thrown away (stream bytes, or the segments of a broken message). */
      discarded: number;
      /** The first discarded bytes in hex, for the log. */
      sample: string;
    };

export interface NciParserOptions {
  /**
   * Whose packets this parser reads: a controller never sends commands, a host never sends
   * responses or notifications. A message type the sender never sends is garbage. Default 'any'.
   */
  from?: 'nfcc' | 'dh' | 'any';
  /** Whether a data packet for this connection can exist. Default: only the static RF connection (0). */
  isOpenConnection?: (connId: number) => boolean;
  /** The longest message reassembled from segments (default 70 000 bytes: an extended APDU and then some). */
  maxMessageLength?: number;
}

interface Reassembly {
  key: string;
  first: NciPacket;
  parts: Uint8Array[];
  length: number;
}

// GIDs the NCI specification defines (core, RF management, NFCEE management, proprietary).
const kKnownGids = new Set([0x0, 0x1, 0x2, 0xf]);
const kSampleBytes = 16;

export class NciParser {
  private _buffer: Uint8Array = new Uint8Array(0);
  private _control: Reassembly | undefined;
  private readonly _data = new Map<number, Reassembly>();
  private readonly _from: 'nfcc' | 'dh' | 'any';
  private readonly _isOpen: (connId: number) => boolean;
  private readonly _maxMessage: number;

  constructor(options: NciParserOptions = {}) {
    this._from = options.from ?? 'any';
    this._isOpen = options.isOpenConnection ?? ((connId) => connId === 0);
    this._maxMessage = options.maxMessageLength ?? 70_000;
  }

  /** Bytes of a packet whose end has not arrived yet: the caller's silence timer should run. */
  get hasPartialPacket(): boolean {
    return this._buffer.length > 0;
  }

  /** A message whose last segment has not arrived yet. */
  get hasPartialMessage(): boolean {
    return this._control !== undefined || this._data.size > 0;
  }

  /** Feeds bytes from the link; returns the whole messages (and garbage reports) they complete. */
  push(bytes: Uint8Array): NciParserEvent[] {
    this._buffer = this._buffer.length === 0 ? Uint8Array.from(bytes) : Buffer.concat([this._buffer, bytes]);
    return this._scan(false);
  }

  /**
   * The line went quiet with a packet unfinished: its announced length will never arrive. Its
   * header was garbage; the bytes after it are scanned again for packets (a real packet may sit
   * right behind a stray byte that looked like a header).
   */
  expire(): NciParserEvent[] {
    return this._scan(true);
  }

  /** Forgets segments of unfinished messages (the controller was reset, the RF session ended). */
  dropPartialMessages(): void {
    this._control = undefined;
    this._data.clear();
  }

  /** Forgets everything: the stream starts afresh. */
  reset(): void {
    this._buffer = new Uint8Array(0);
    this.dropPartialMessages();
  }

  /** Why a header cannot start a packet (undefined when it can); `available` bytes of it are known. */
  private _implausible(header: Uint8Array, offset: number, available: number): string | undefined {
    const b0 = header[offset]!;
    const mtCode = b0 >> 5;
    if (mtCode > 3) return `message type ${mtCode.toString(2).padStart(3, '0')} does not exist`;
    const mt = kMtName[mtCode]!;
    if (this._from === 'nfcc' && mt === 'command') return 'a controller never sends commands';
    if (this._from === 'dh' && (mt === 'response' || mt === 'notification')) return `a host never sends ${mt}s`;
    const id = b0 & 0x0f;
    if (mt === 'data') {
      if (!this._isOpen(id)) return `a data packet for connection ${id}, which does not exist`;
      return undefined;
    }
    if (!kKnownGids.has(id)) return `group ${id} is not an NCI group`;
    if (available >= 2 && (header[offset + 1]! & 0xc0) !== 0) return 'the reserved bits of the OID byte are set';
    return undefined;
  }

  private _scan(final: boolean): NciParserEvent[] {
    const events: NciParserEvent[] = [];
    const buffer = this._buffer;
    let offset = 0;
    let garbageStart = -1;
    let garbageReason = '';
    const flushGarbage = (end: number): void => {
      if (garbageStart < 0) return;
      events.push({ kind: 'garbled', reason: garbageReason, discarded: end - garbageStart, sample: toHex(buffer.subarray(garbageStart, Math.min(end, garbageStart + kSampleBytes))) });
      garbageStart = -1;
    };
    const skip = (reason: string): void => {
      if (garbageStart < 0) {
        garbageStart = offset;
        garbageReason = reason;
      }
      offset++;
    };
    while (offset < buffer.length) {
      const available = buffer.length - offset;
      const problem = this._implausible(buffer, offset, Math.min(available, 2));
      if (problem) {
        skip(problem);
        continue;
      }
      if (available < kNciHeaderLength) {
        if (final) {
          skip('the line went quiet in the middle of a packet header');
          continue;
        }
        break;
      }
      const length = buffer[offset + 2]!;
      if (available < kNciHeaderLength + length) {
        if (final) {
          skip(`a packet announced ${length} payload bytes but only ${available - kNciHeaderLength} arrived before the line went quiet`);
          continue;
        }
        break;
      }
      flushGarbage(offset);
      const b0 = buffer[offset]!;
      const packet: NciPacket = {
        mt: kMtName[b0 >> 5]!,
        pbf: (b0 & 0x10) !== 0,
        id: b0 & 0x0f,
        oid: b0 >> 5 === 0 ? 0 : buffer[offset + 1]! & 0x3f,
        payload: Uint8Array.from(buffer.subarray(offset + kNciHeaderLength, offset + kNciHeaderLength + length)),
      };
      offset += kNciHeaderLength + length;
      this._assemble(packet, events);
    }
    flushGarbage(offset);
    this._buffer = offset === 0 ? buffer : Uint8Array.from(buffer.subarray(offset));
    return events;
  }

  private _assemble(packet: NciPacket, events: NciParserEvent[]): void {
    const key = packet.mt === 'data' ? `data/${packet.id}` : `${packet.mt}/${packet.id}/${packet.oid}`;
    const pending = packet.mt === 'data' ? this._data.get(packet.id) : this._control;
    const broken = (reason: string, discarded: Reassembly): void => {
      events.push({ kind: 'garbled', reason, discarded: discarded.length, sample: toHex(Buffer.concat(discarded.parts).subarray(0, kSampleBytes)) });
    };
    let assembly: Reassembly;
    if (pending && pending.key !== key) {
      // Segments of one control message come back to back; anything else in between means the
      // stream lost bytes. Start over with this packet.
      broken(`a segmented ${describeHeader(pending.first)} was interrupted by ${describeHeader(packet)}`, pending);
      assembly = { key, first: packet, parts: [packet.payload], length: packet.payload.length };
    } else if (pending) {
      pending.parts.push(packet.payload);
      pending.length += packet.payload.length;
      assembly = pending;
    } else {
      assembly = { key, first: packet, parts: [packet.payload], length: packet.payload.length };
    }
    const forget = (): void => {
      if (packet.mt === 'data') this._data.delete(packet.id);
      else this._control = undefined;
    };
    if (assembly.length > this._maxMessage) {
      forget();
      broken(`a segmented ${describeHeader(assembly.first)} grew past ${this._maxMessage} bytes`, assembly);
      return;
    }
    if (packet.pbf) {
      if (packet.mt === 'data') this._data.set(packet.id, assembly);
      else this._control = assembly;
      return;
    }
    forget();
    const payload = assembly.parts.length === 1 ? assembly.parts[0]! : Uint8Array.from(Buffer.concat(assembly.parts));
    const message: NciMessage =
      packet.mt === 'data' ? { mt: 'data', connId: packet.id, payload } : { mt: packet.mt, gid: packet.id, oid: packet.oid, payload };
    events.push({ kind: 'message', message });
  }
}

function describeHeader(packet: NciPacket): string {
  return packet.mt === 'data' ? `data message on connection ${packet.id}` : `${packet.mt} ${packet.id}/${packet.oid}`;
}
