/**
 * A seeded APDU fuzzer with a shadow model of the card's security state. It sends a card valid
 * commands, structured random ones, mutations of valid ones and raw random bytes, with power cycles
 * between, and checks after every answer what must hold whatever the card is sent:
 * - no exception escapes `transmit`, and no answer is 6F00 (an applet bug caught by the card);
 * - every answer is a well-formed R-APDU whose SW is in the registry (iso7816/status-words.ts);
 * - a PIN's tries left never go up, except through a VERIFY or CHANGE REFERENCE DATA answered 9000
 *   with that PIN's own value;
 * - no signature (80 2A answered 9000) without the PIN of the key verified in this session (the
 *   shadow's verified flags: set by a right VERIFY, cleared by a wrong one and by a power cycle).
 * The same seed gives the same commands, so a failure is replayed with its seed.
 */
import { createMemoryCard, kPinIds, type Card, type CardImage, type PinId } from '../../emulator/index.js';
import { encodeCommandApdu } from '../../iso7816/apdu.js';
import { fromHex, toHex } from '../../iso7816/bytes.js';
import { isRegisteredSw, swHex } from '../../iso7816/status-words.js';
import { sha256DigestInfo } from '../jpki/jpki-client.js';
import { seededRandom } from '../stats/seeded-random.js';

export interface FuzzOptions {
  /** Commands to send in all. */
  count: number;
  seed: number;
  /** Commands between power cycles (a fresh card every ten sessions). */
  commandsPerSession?: number;
  /** The card to fuzz (default: a memory card from the image); tests pass a broken one. */
  makeCard?: ((image: CardImage, logger: { error(line: string): void }) => FuzzedCard) | undefined;
}

export type FuzzedCard = Pick<Card, 'transmit' | 'powerOn' | 'powerOff' | 'store'>;

export interface FuzzViolation {
  seed: number;
  index: number;
  invariant: string;
  /** The command, its data left out when it may carry a PIN. */
  command: string;
  answer: string;
}

export interface FuzzReport {
  seed: number;
  commands: number;
  signatures: number;
  verifiedPins: number;
  blockedPins: number;
  statusWords: Map<string, number>;
  violations: FuzzViolation[];
  /** All violations, of which `violations` keeps the first few of each kind. */
  violationCount: number;
}


const kJpkiAid = 'D392F000260100000001';
const kAids = [kJpkiAid, 'D3921000310001010408', 'D3921000310001010402', 'D3921000310001010100', 'A0000000010101', 'D392F0'];
const kFids = [0x0001, 0x0002, 0x0005, 0x0006, 0x000a, 0x000b, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x0017, 0x0018, 0x001a, 0x001b, 0x001c, 0x3f00, 0xffff];
/** The JPKI PIN EFs and the key EFs they guard. */
const kPinEf: Record<number, PinId> = { 0x0018: 'auth', 0x001b: 'sign' };
const kKeyEf: Record<number, PinId> = { 0x0017: 'auth', 0x001a: 'sign' };

class Generator {
  constructor(
    private readonly random: () => number,
    private readonly image: CardImage,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(max: number): Uint8Array {
    return Uint8Array.from({ length: this.int(max + 1) }, () => this.int(256));
  }

  private pin(): Uint8Array {
    const p = this.image.pins;
    const values = [p.auth.value, p.sign.value, p.kenhojo.value, '0000', '9999', 'WRONG1', '12345678', ''];
    return Uint8Array.from(Buffer.from(this.pick(values), 'latin1'));
  }

  /** Commands a real client sends, in the shapes it sends them. */
  valid(): Uint8Array {
    switch (this.int(9)) {
      case 0:
        return encodeCommandApdu({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: fromHex(this.pick(kAids)) });
      case 1:
      case 2: {
        const fid = this.pick(kFids);
        return encodeCommandApdu({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(fid >> 8, fid & 0xff) });
      }
      case 3:
        return encodeCommandApdu({ cla: 0, ins: 0xb0, p1: this.int(8), p2: this.int(256), ne: this.pick([1, 4, 16, 255, 256]) });
      case 4:
      case 5:
        return encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: this.pick([0x80, 0x80, 0x91, 0x98]), data: this.pin() });
      case 6:
        return encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80 });
      case 7:
        return encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: sha256DigestInfo(Uint8Array.of(this.int(256))), ne: 256 });
      default:
        return encodeCommandApdu({ cla: 0, ins: 0x84, p1: 0, p2: 0, ne: 8 });
    }
  }

  structured(): Uint8Array {
    const header = [
      this.random() < 0.7 ? this.pick([0x00, 0x80, 0x0c, 0x84, 0x10, 0x01]) : this.int(256),
      this.random() < 0.7 ? this.pick([0xa4, 0xb0, 0xb1, 0xb2, 0x20, 0x24, 0x2a, 0x84, 0x88, 0xc0, 0xca, 0xcb]) : this.int(256),
      this.random() < 0.7 ? this.pick([0x00, 0x01, 0x02, 0x04, 0x80, 0x81, 0x82, 0x8a, 0x9e]) : this.int(256),
      this.random() < 0.7 ? this.pick([0x00, 0x04, 0x0c, 0x80, 0x91, 0x98, 0x9b, 0x9f]) : this.int(256),
    ] as const;
    const data = this.random() < 0.3 ? new Uint8Array(0) : this.random() < 0.5 ? this.pin() : this.bytes(this.random() < 0.9 ? 40 : 300);
    const ne = this.random() < 0.4 ? undefined : this.pick([1, 2, 48, 255, 256, 257, 4096, 65536]);
    return encodeCommandApdu({ cla: header[0], ins: header[1], p1: header[2], p2: header[3], data, ne });
  }

  mutated(): Uint8Array {
    const base = [...this.valid()];
    switch (this.int(4)) {
      case 0:
        base[this.int(base.length)] = this.int(256);
        break;
      case 1:
        base.length = this.int(base.length);
        break;
      case 2:
        base.push(...this.bytes(8));
        break;
      default:
        if (base.length > 4) base[4] = this.int(256); // a lying Lc
    }
    return Uint8Array.from(base);
  }

  private queue: Uint8Array[] = [];

  /** A real client's sequence (select, verify, select the key, sign), now and then with a stray command in it. */
  private clientSequence(): Uint8Array[] {
    const key = this.pick(['auth', 'sign'] as const);
    const p = this.image.pins;
    const pin = this.random() < 0.75 ? p[key].value : this.pick(['0000', 'WRONG1']);
    const steps = [
      encodeCommandApdu({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: fromHex(kJpkiAid) }),
      encodeCommandApdu({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: fromHex(key === 'auth' ? '0018' : '001B') }),
      encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Uint8Array.from(Buffer.from(pin, 'latin1')) }),
      encodeCommandApdu({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: fromHex(this.random() < 0.8 === (key === 'auth') ? '0017' : '001A') }),
      encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: sha256DigestInfo(Uint8Array.of(this.int(256))), ne: 256 }),
    ];
    return steps.map((step) => (this.random() < 0.1 ? this.structured() : step));
  }

  next(): Uint8Array {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (this.random() < 0.04) {
      this.queue = this.clientSequence();
      return this.queue.shift()!;
    }
    const r = this.random();
    if (r < 0.45) return this.valid();
    if (r < 0.75) return this.structured();
    if (r < 0.93) return this.mutated();
    return this.bytes(this.random() < 0.8 ? 12 : 300);
  }
}

/** What the harness believes of the card's security state, from the commands and answers alone. */
class ShadowModel {
  verified = new Set<PinId>();
  selectedEf: number | undefined;
  constructor(private readonly image: CardImage) {}

  reset(): void {
    this.verified.clear();
    this.selectedEf = undefined;
  }

  /** Updates the model from one exchange. */
  observe(command: Uint8Array, sw: number): void {
    const [cla, ins, p1, p2] = command;
    const body = command.length > 5 ? command.subarray(5, 5 + (command[4] ?? 0)) : new Uint8Array(0);
    // Any other way the card might move its current EF makes the model forget which it is.
    if (ins === 0xa4) this.selectedEf = cla === 0x00 && p1 === 0x02 && sw === 0x9000 && body.length === 2 ? (body[0]! << 8) | body[1]! : undefined;
    if ((ins === 0xb0 || ins === 0xb1 || ins === 0xb2) && ((p1 ?? 0) & 0x80) !== 0) this.selectedEf = undefined;
    if (ins === 0x20 && body.length > 0 && command.length === 5 + body.length) {
      const text = Buffer.from(body).toString('latin1');
      // A failed VERIFY ends the verification of the PIN it names: the current EF's with P2 80. Another
      // P2 names a PIN the model does not track, so it forgets nothing (it may only believe too much).
      const pin = this.selectedEf === undefined || p2 !== 0x80 ? undefined : kPinEf[this.selectedEf];
      if (sw === 0x9000) for (const id of kPinIds) if (this.image.pins[id].value === text) this.verified.add(id);
      // Only a comparison that failed (63Cx, or a PIN blocked now) ends it; a malformed VERIFY (6700, 6A86…) compares nothing.
      const compared = (sw & 0xfff0) === 0x63c0 || sw === 0x6983 || sw === 0x6984;
      if (compared && pin) this.verified.delete(pin);
    }
  }

  /** The PIN a signature with the selected key needs; undefined when the key is not known. */
  keyPin(): PinId | undefined {
    return this.selectedEf === undefined ? undefined : kKeyEf[this.selectedEf];
  }
}

function describeCommand(command: Uint8Array): string {
  const ins = command[1];
  // VERIFY and CHANGE REFERENCE DATA carry PINs: the header and the length only.
  if ((ins === 0x20 || ins === 0x24) && command.length > 5) return `${toHex(command.subarray(0, 5))} <${command.length - 5} bytes>`;
  return toHex(command.subarray(0, 64)) + (command.length > 64 ? '…' : '');
}

/** Sends `options.count` commands to fresh memory cards made from `image` and checks the invariants. */
export function fuzzCard(image: CardImage, options: FuzzOptions): FuzzReport {
  const random = seededRandom(options.seed);
  const generator = new Generator(random, image);
  const perSession = options.commandsPerSession ?? 60;
  const report: FuzzReport = { seed: options.seed, commands: 0, signatures: 0, verifiedPins: 0, blockedPins: 0, statusWords: new Map(), violations: [], violationCount: 0 };
  const internalErrors: string[] = [];
  const makeCard = options.makeCard ?? ((img, logger) => createMemoryCard(img, { logger }));
  let card: FuzzedCard | undefined;
  let shadow = new ShadowModel(image);
  // Every violation counts; the report keeps the first few of each kind, to read and to replay.
  const perKind = new Map<string, number>();
  const fail = (index: number, invariant: string, command: Uint8Array, answer: string): void => {
    report.violationCount++;
    const kind = invariant.slice(0, 24);
    const seen = perKind.get(kind) ?? 0;
    perKind.set(kind, seen + 1);
    if (seen < 3 && report.violations.length < 50) report.violations.push({ seed: options.seed, index, invariant, command: describeCommand(command), answer });
  };
  for (let i = 0; i < options.count; i++) {
    if (card === undefined || i % (perSession * 10) === 0) {
      card = makeCard(image, { error: (line) => internalErrors.push(line.split('\n')[0] ?? line) });
      shadow = new ShadowModel(card.store.image);
      card.powerOn();
    } else if (i % perSession === 0) {
      // A power cycle: the card forgets selection and verification, keeps its counters.
      card.powerOff();
      card.powerOn();
      shadow.reset();
    }
    const pins = card.store.image.pins;
    const before = Object.fromEntries(kPinIds.map((id) => [id, pins[id].remaining])) as Record<PinId, number>;
    const command = generator.next();
    const keyPin = shadow.keyPin();
    const verifiedBefore = new Set(shadow.verified);
    let answer: Uint8Array;
    try {
      answer = card.transmit(command);
    } catch (e) {
      fail(i, `an exception escaped transmit: ${(e as Error).message}`, command, '-');
      card = undefined;
      continue;
    }
    report.commands++;
    if (answer.length < 2) {
      fail(i, 'an answer shorter than a status word', command, toHex(answer));
      continue;
    }
    const sw = (answer[answer.length - 2]! << 8) | answer[answer.length - 1]!;
    const swText = swHex(sw);
    report.statusWords.set(swText, (report.statusWords.get(swText) ?? 0) + 1);
    if (sw === 0x6f00) fail(i, `6F00 (an internal error: ${internalErrors.at(-1) ?? 'not logged'})`, command, swText);
    if (!isRegisteredSw(sw)) fail(i, 'a status word outside the registry', command, swText);
    const ins = command[1];
    const body = Buffer.from(command.subarray(5)).toString('latin1');
    for (const id of kPinIds) {
      const now = pins[id].remaining;
      if (now < 0 || now > pins[id].limit) fail(i, `${id} PIN tries ${now} outside 0..${pins[id].limit}`, command, swText);
      if (now > before[id]) {
        const rightValue = sw === 0x9000 && (ins === 0x20 || ins === 0x24) && (body.startsWith(pins[id].value) || ins === 0x24);
        if (!rightValue) fail(i, `${id} PIN tries went up from ${before[id]} to ${now}`, command, swText);
      }
      if (now === 0 && before[id] > 0) report.blockedPins++;
    }
    if (command[0] === 0x80 && ins === 0x2a && sw === 0x9000) {
      report.signatures++;
      const allowed = keyPin ? verifiedBefore.has(keyPin) : verifiedBefore.has('auth') || verifiedBefore.has('sign');
      if (!allowed) fail(i, `a signature without the ${keyPin ?? 'auth or sign'} PIN verified in this session`, command, swText);
    }
    const wasVerified = shadow.verified.size;
    shadow.observe(command, sw);
    if (shadow.verified.size > wasVerified) report.verifiedPins++;
  }
  return report;
}
