/**
 * The host-side JPKI client: what a relying party's client software does with a My Number Card,
 * over any channel that carries APDUs (the in-process emulator, PC/SC, an NFC bridge). It sends
 * the same command forms the public clients send (SELECT with P2 0C, a short header read, then
 * 256-byte chunks; VERIFY on the selected PIN EF; 80 2A 00 80 with a DigestInfo).
 */
import { createHash } from 'node:crypto';
import { encodeCommandApdu, parseResponseApdu, type CommandSpec } from '../../iso7816/apdu.js';
import { concat, decodeAscii, fromHex, toHex, u16, type Bytes } from '../../iso7816/bytes.js';
import { maskCommand } from '../../iso7816/secret-mask.js';
import { describeSw, isWrongPinSw, swHex } from '../../iso7816/status-words.js';
import { parseKenhojoBasic4, parseKenhojoMyNumber, type KenhojoBasic4 } from '../../common/card-info-format.js';
import type { ApduChannel } from '../../iso7816/apdu-channel.js';
import type { ApduTrace } from '../../iso7816/apdu-trace.js';


export const kAids = {
  jpki: fromHex('D392F000260100000001'),
  kenhojo: fromHex('D3921000310001010408'),
  kenkaku: fromHex('D3921000310001010402'),
  juki: fromHex('D3921000310001010100'),
} as const;

export type CertificateKind = 'auth' | 'sign' | 'authCa' | 'signCa';
export type JpkiPin = 'auth' | 'sign';
export type CardPin = JpkiPin | 'kenhojo';

const kCertificateEf: Record<CertificateKind, number> = { sign: 0x0001, signCa: 0x0002, auth: 0x000a, authCa: 0x000b };
const kPinEf: Record<CardPin, { aid: Bytes; ef: number }> = {
  auth: { aid: kAids.jpki, ef: 0x0018 },
  sign: { aid: kAids.jpki, ef: 0x001b },
  kenhojo: { aid: kAids.kenhojo, ef: 0x0011 },
};
const kKeyEf: Record<JpkiPin, number> = { auth: 0x0017, sign: 0x001a };

/** DER prefix of a SHA-256 DigestInfo; the card pads and signs DigestInfo ‖ hash as given. */
export const kSha256DigestInfoPrefix = fromHex('3031300D060960864801650304020105000420');

export function sha256DigestInfo(data: Uint8Array): Bytes {
  return concat(kSha256DigestInfoPrefix, createHash('sha256').update(data).digest());
}

/** The card answered a status word the client did not expect. */
export class CardCommandError extends Error {
  constructor(
    readonly step: string,
    readonly sw: number,
  ) {
    super(`${step}: card answered ${swHex(sw)} (${describeSw(sw)})`);
    this.name = 'CardCommandError';
  }
}

/** VERIFY failed: the PIN was wrong (tries left) or is blocked. */
export class PinError extends CardCommandError {
  constructor(
    step: string,
    sw: number,
    readonly pin: CardPin,
    readonly triesLeft: number,
  ) {
    super(step, sw);
    this.name = 'PinError';
  }
  get blocked(): boolean {
    return this.triesLeft === 0;
  }
}

/** What the client reports of each exchange: the part of an ApduTrace it knows. */
export type TraceEntry = Pick<ApduTrace, 'command' | 'response' | 'sw'>;

export class JpkiClient {
  private _selected: Bytes | undefined;

  constructor(
    private readonly _channel: ApduChannel,
    private readonly _onExchange?: (entry: TraceEntry) => void,
  ) {}

  async send(spec: CommandSpec, step: string, okSws: readonly number[] = [0x9000]): Promise<{ data: Bytes; sw: number }> {
    const command = encodeCommandApdu(spec);
    const raw = await this._channel.transmit(command);
    const response = parseResponseApdu(raw);
    this._onExchange?.({ command: maskCommand(command), response: toHex(response.data), sw: swHex(response.sw) });
    if (!okSws.includes(response.sw)) throw new CardCommandError(step, response.sw);
    return response;
  }

  async selectAp(aid: Uint8Array): Promise<void> {
    await this.send({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: aid }, `SELECT AP ${toHex(aid)}`);
    this._selected = aid;
  }

  private async _ensureAp(aid: Uint8Array): Promise<void> {
    if (this._selected !== aid) await this.selectAp(aid);
  }

  async selectEf(fid: number): Promise<void> {
    await this.send({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data: u16(fid) }, `SELECT EF ${fid.toString(16).padStart(4, '0')}`);
  }

  async readBinary(offset: number, length: number): Promise<Bytes> {
    const { data } = await this.send({ cla: 0x00, ins: 0xb0, p1: offset >> 8, p2: offset & 0xff, ne: length }, `READ BINARY at ${offset}`);
    return data;
  }

  /** Reads a DER object (certificate) from the selected EF: a 4-byte header read, then 256-byte chunks. */
  async readDerFile(): Promise<Bytes> {
    const header = await this.readBinary(0, 4);
    if (header.length < 4 || header[0] !== 0x30 || header[1] !== 0x82) {
      throw new Error(`the EF does not start with a DER SEQUENCE with a 2-byte length (got ${toHex(header)})`);
    }
    const total = ((header[2]! << 8) | header[3]!) + 4;
    const chunks: Bytes[] = [];
    let offset = 0;
    while (offset < total) {
      const chunk = await this.readBinary(offset, Math.min(256, total - offset));
      if (chunk.length === 0) throw new Error(`the EF ended at ${offset} of ${total} bytes`);
      chunks.push(chunk);
      offset += chunk.length;
    }
    return concat(...chunks);
  }

  async readToken(): Promise<string> {
    await this._ensureAp(kAids.jpki);
    await this.selectEf(0x0006);
    return decodeAscii(await this.readBinary(0, 0x20)).trimEnd();
  }

  async readCertificate(kind: CertificateKind): Promise<Bytes> {
    await this._ensureAp(kAids.jpki);
    await this.selectEf(kCertificateEf[kind]);
    return this.readDerFile();
  }

  /** Tries left, by the empty VERIFY (63Cx); does not use a try. */
  async pinTriesLeft(pin: CardPin): Promise<number> {
    const { aid, ef } = kPinEf[pin];
    await this._ensureAp(aid);
    await this.selectEf(ef);
    const { sw } = await this.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80 }, `PIN status ${pin}`, [0x9000, ...wrongPinSws()]);
    return sw === 0x9000 ? -1 : sw & 0x0f;
  }

  async verifyPin(pin: CardPin, value: string): Promise<void> {
    const { aid, ef } = kPinEf[pin];
    await this._ensureAp(aid);
    await this.selectEf(ef);
    try {
      await this.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: Buffer.from(value, 'latin1') }, `VERIFY ${pin} PIN`);
    } catch (e) {
      if (e instanceof CardCommandError && isWrongPinSw(e.sw)) throw new PinError(e.step, e.sw, pin, e.sw & 0x0f);
      if (e instanceof CardCommandError && (e.sw === 0x6983 || e.sw === 0x6984)) throw new PinError(e.step, e.sw, pin, 0);
      throw e;
    }
  }

  /** Signs a DigestInfo with the key of `key`; the PIN of that key must be verified first. */
  async signDigestInfo(key: JpkiPin, digestInfo: Uint8Array): Promise<Bytes> {
    await this._ensureAp(kAids.jpki);
    await this.selectEf(kKeyEf[key]);
    const { data } = await this.send({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: digestInfo, ne: 256 }, `SIGN with ${key} key`);
    return data;
  }

  async changePin(pin: CardPin, current: string, next: string): Promise<void> {
    await this.verifyPin(pin, current);
    await this.send({ cla: 0x00, ins: 0x24, p1: 0x01, p2: 0x80, data: Buffer.from(next, 'latin1') }, `CHANGE ${pin} PIN`);
  }

  async readMyNumber(kenhojoPin: string): Promise<string> {
    await this.verifyPin('kenhojo', kenhojoPin);
    await this.selectEf(0x0001);
    return parseKenhojoMyNumber(await this.readBinary(0, 17));
  }

  async readBasicFour(kenhojoPin: string): Promise<KenhojoBasic4> {
    await this.verifyPin('kenhojo', kenhojoPin);
    await this.selectEf(0x0002);
    const head = await this.readBinary(0, 7);
    const total = basicFourLength(head);
    const rest = total > head.length ? await this.readBinary(head.length, total - head.length) : new Uint8Array(0);
    return parseKenhojoBasic4(concat(head, rest));
  }
}

function wrongPinSws(): number[] {
  return Array.from({ length: 16 }, (_, i) => 0x63c0 | i);
}

/** The whole length of the FF 20 TLV from its first bytes (short or long form length). */
function basicFourLength(head: Uint8Array): number {
  const l = head[2];
  if (l === undefined) throw new Error('kenhojo EF 0002 is shorter than its header');
  if (l < 0x80) return 3 + l;
  if (l === 0x81) return 4 + head[3]!;
  if (l === 0x82) return 5 + ((head[3]! << 8) | head[4]!);
  throw new Error(`kenhojo EF 0002 has an unexpected length byte ${l.toString(16)}`);
}
