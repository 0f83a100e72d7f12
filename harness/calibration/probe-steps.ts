/**
 * The probe sequence, as a table: one step per card option (what the emulator can be told to do)
 * and a few informative steps (what a card definition or nothing at all controls). Each step starts
 * on a freshly reset card, sends a short fixed sequence and turns the answers into a value.
 * Adding an option to the emulator means adding its step here; a test fails until it is.
 *
 * Order matters only for cost: steps that need nothing run first, steps that verify a PIN the lab
 * gave next, and the one that may spend tries (blockedPinSw) last.
 */
import { encodeCommandApdu } from '../../iso7816/apdu.js';
import { ascii, toHex } from '../../iso7816/bytes.js';
import { sha256DigestInfo, type kAids } from '../jpki/jpki-client.js';
import { kProbePinFlags, kProbePins, type ProbePin, type ProbeSession, type Reply } from './probe-session.js';

export type Measurement =
  | { status: 'measured'; value: unknown; evidence: string }
  /** The card answered in a way no value of the option gives: the emulator cannot copy it yet. */
  | { status: 'unmatched'; evidence: string }
  | { status: 'not measured'; reason: string; flag?: string };

/** What earlier steps learnt that later ones use. */
export interface ProbeFacts {
  /** The SW every AP SELECT answered on a terminated card (set only with --terminated). */
  terminatedSw?: string;
  /** Whether the card has a signature key (a minor's card has none). */
  hasSignKey?: boolean;
}

export interface ProbeStep {
  /** The option key (for kind 'option') or the name of the informative value. */
  id: string;
  kind: 'option' | 'informative';
  /** Informative only: 'behaviour' differences count in `card diff`, 'content' ones (this card's data) are shown but do not. */
  compare?: 'behaviour' | 'content';
  /** One line: what the step asks the card. */
  question: string;
  /** True when the step may verify or spend a PIN: the try counters are checked after it. */
  touchesPins?: boolean;
  run(session: ProbeSession, facts: ProbeFacts): Promise<Measurement>;
}

const measured = (value: unknown, evidence: string): Measurement => ({ status: 'measured', value, evidence });
const unmatched = (evidence: string): Measurement => ({ status: 'unmatched', evidence });
const notMeasured = (reason: string, flag?: string): Measurement => ({ status: 'not measured', reason, ...(flag ? { flag } : {}) });

const kProbeDigestInfo = sha256DigestInfo(ascii('jpki-hil card probe'));

function signCommand(withLe: boolean): Uint8Array {
  return encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: kProbeDigestInfo, ...(withLe ? { ne: 256 } : {}) });
}

function describe(reply: Reply): string {
  return reply.data.length > 0 ? `${reply.swText} with ${reply.data.length} bytes` : reply.swText;
}

/** The PINs a step can use, in order of preference: the card-info PIN costs the least if it goes wrong. */
const kVerifiablePins: readonly ProbePin[] = ['kenhojo', 'auth', 'sign'];

function firstGivenPin(session: ProbeSession, facts: ProbeFacts): ProbePin | undefined {
  return kVerifiablePins.find((pin) => session.pinGiven(pin) && (pin !== 'sign' || facts.hasSignKey !== false) && session.expected[pin] !== 0);
}

const kAnyPinFlag = '--kenhojo-pin (or --auth-pin, --sign-pin)';

/**
 * After VERIFY of `pin`, something only that PIN opens: kenhojo EF 0002 (one byte, the tag: no
 * personal data), or a signature with the PIN's key. True when the card let it through.
 */
async function stillVerified(session: ProbeSession, pin: ProbePin): Promise<boolean | Reply> {
  if (pin === 'kenhojo') {
    const ef = await session.selectEf(0x0002);
    if (ef.sw !== 0x9000) return ef;
    const read = await session.readBinary(0, 1);
    return read.sw === 0x9000 ? true : read.sw === 0x6982 ? false : read;
  }
  const key = await session.selectEf(pin === 'auth' ? 0x0017 : 0x001a);
  if (key.sw !== 0x9000) return key;
  const signed = await session.send(signCommand(true), true);
  return signed.sw === 0x9000 ? true : signed.sw === 0x6982 || signed.sw === 0x6985 ? false : signed;
}

/** Selects the PIN's AP and PIN EF and verifies it with the lab's value; the failing reply otherwise. */
async function verifyGiven(session: ProbeSession, pin: ProbePin): Promise<Reply | undefined> {
  const ap = await session.selectAp(kProbePins[pin].ap);
  if (ap.sw !== 0x9000) return ap;
  const ef = await session.selectEf(kProbePins[pin].ef);
  if (ef.sw !== 0x9000) return ef;
  const verified = await session.verifyPin(pin);
  return verified.sw === 0x9000 ? undefined : verified;
}

/** Verify, select `then` AP(s), come back, and see whether the PIN still opens its file or key. */
async function securityAcross(session: ProbeSession, facts: ProbeFacts, detour: (home: keyof typeof kAids) => Array<keyof typeof kAids>): Promise<Measurement> {
  const pin = firstGivenPin(session, facts);
  if (!pin) return notMeasured('needs a PIN to verify (no try is used)', kAnyPinFlag);
  const failed = await verifyGiven(session, pin);
  if (failed) return unmatched(`VERIFY of the ${kProbePins[pin].label} answered ${failed.swText}`);
  const home = kProbePins[pin].ap;
  const path = detour(home);
  for (const ap of path) {
    const selected = await session.selectAp(ap);
    if (selected.sw !== 0x9000) return unmatched(`SELECT of the ${ap} AP answered ${selected.swText}`);
  }
  const open = await stillVerified(session, pin);
  const route = `VERIFY ${pin}, SELECT ${path.join(' → ')}`;
  if (open === true) return measured('keep', `${route}: the ${kProbePins[pin].label} still opens its ${pin === 'kenhojo' ? 'files' : 'key'}`);
  if (open === false) return measured('clear', `${route}: the ${kProbePins[pin].label} has to be verified again`);
  return unmatched(`${route}: the check answered ${open.swText}`);
}

/**
 * Reads an EF from `from` to its end in 256-byte chunks and returns its size: the offset where the
 * card stops giving data (a short chunk, 6B00, or 9000 with nothing). A 6Cxx answer is followed
 * with the length it names, as ISO 7816-3 says.
 */
async function measureSize(session: ProbeSession, from = 0, cardSpecific = true): Promise<number | Reply> {
  let offset = from;
  for (;;) {
    if (offset > 0x7fff) return offset;
    let reply = await session.readBinary(offset, 256, cardSpecific);
    if ((reply.sw & 0xff00) === 0x6c00) reply = await session.readBinary(offset, reply.sw & 0xff || 256, cardSpecific);
    if ((reply.sw & 0xff00) === 0x6100) return offset + reply.data.length + (reply.sw & 0xff || 256);
    if (reply.sw === 0x6b00 && offset > from) return offset;
    if (reply.sw !== 0x9000) return reply;
    offset += reply.data.length;
    if (reply.data.length < 256) return offset;
  }
}

type LengthForm = 'two-byte' | 'minimal';

/**
 * Reads the TLV header at `offset` of the current EF a byte group at a time (tag, first length
 * byte, the rest of the length), so no value byte is read, and says which long-length form it
 * shows: only a length from 128 to 255 tells `81 LL` from `82 00 LL`.
 */
async function lengthFormAt(session: ProbeSession, offset: number): Promise<{ form?: LengthForm; header: string; length?: number } | Reply> {
  const head = await session.readBinary(offset, 1);
  if (head.sw !== 0x9000 || head.data.length < 1) return head;
  const tagLength = (head.data[0]! & 0x1f) === 0x1f ? 2 : 1;
  const start = await session.readBinary(offset, tagLength + 1);
  if (start.sw !== 0x9000 || start.data.length < tagLength + 1) return start;
  const first = start.data[tagLength]!;
  if (first < 0x80) return { header: toHex(start.data), length: first };
  const extra = first & 0x7f;
  if (extra < 1 || extra > 2) return { header: toHex(start.data) };
  const whole = await session.readBinary(offset, tagLength + 1 + extra);
  if (whole.sw !== 0x9000 || whole.data.length < tagLength + 1 + extra) return whole;
  const length = extra === 1 ? whole.data[tagLength + 1]! : (whole.data[tagLength + 1]! << 8) | whole.data[tagLength + 2]!;
  const header = toHex(whole.data);
  if (length < 0x80 || length > 0xff) return { header, length };
  return { form: extra === 1 ? 'minimal' : 'two-byte', header, length };
}

const kEfsWithoutPin: ReadonlyArray<{ ap: keyof typeof kAids; fid: number; name: string }> = [
  { ap: 'jpki', fid: 0x0006, name: 'jpki 0006 (token)' },
  { ap: 'jpki', fid: 0x000a, name: 'jpki 000A (auth certificate)' },
  { ap: 'jpki', fid: 0x000b, name: 'jpki 000B (auth CA certificate)' },
  { ap: 'jpki', fid: 0x0002, name: 'jpki 0002 (sign CA certificate)' },
  { ap: 'kenhojo', fid: 0x0004, name: 'kenhojo 0004 (certificate)' },
  { ap: 'kenhojo', fid: 0x0005, name: 'kenhojo 0005 (basic info)' },
  { ap: 'kenkaku', fid: 0x0003, name: 'kenkaku 0003 (basic info)' },
];

export const kProbeSteps: readonly ProbeStep[] = [
  {
    id: 'terminatedSelectSw',
    kind: 'option',
    question: 'What a terminated (廃止) card answers to SELECT of an AP',
    async run(_session, facts) {
      if (facts.terminatedSw !== undefined) return measured(facts.terminatedSw, `SELECT of every AP answered ${facts.terminatedSw}`);
      return notMeasured('the card is active: only a terminated card answers this', '--terminated (with a terminated card in the reader)');
    },
  },
  {
    id: 'atr',
    kind: 'informative',
    compare: 'content',
    question: 'The ATR (card.atr of a card definition)',
    async run(session) {
      return measured(toHex(session.atr), 'from the reader');
    },
  },
  {
    id: 'fciOnSelect',
    kind: 'informative',
    compare: 'behaviour',
    question: 'What SELECT of the JPKI AP with P2 = 00 and Le answers (the FCI)',
    async run(session) {
      const reply = await session.selectAp('jpki', 0x00);
      return measured({ sw: reply.swText, data: toHex(reply.data) }, `00 A4 04 00 … 00 answered ${describe(reply)}`);
    },
  },
  {
    id: 'efSizes',
    kind: 'informative',
    compare: 'content',
    question: 'The size of each EF readable without a PIN (read to its end)',
    async run(session) {
      const sizes: Record<string, number | string> = {};
      for (const ef of kEfsWithoutPin) {
        const selected = await session.selectAp(ef.ap);
        const file = selected.sw === 0x9000 ? await session.selectEf(ef.fid) : selected;
        const size = file.sw === 0x9000 ? await measureSize(session) : file;
        sizes[ef.name] = typeof size === 'number' ? size : `not readable (${size.swText})`;
      }
      return measured(sizes, 'READ BINARY in 256-byte chunks until the card stops giving data');
    },
  },
  {
    id: 'readPastEnd',
    kind: 'option',
    question: 'READ BINARY at the end of an EF (the 32-byte token EF 0006)',
    async run(session) {
      const ef = await session.selectAndRead('jpki', 0x0006, 0, 1);
      if (ef.sw !== 0x9000) return unmatched(`reading the token EF answered ${ef.swText}`);
      const size = await measureSize(session, 0, false);
      if (typeof size !== 'number') return unmatched(`reading the token EF answered ${size.swText}`);
      const past = await session.readBinary(size, 1);
      const evidence = `READ BINARY at offset ${size} (the end of the ${size}-byte EF) answered ${describe(past)}`;
      if (past.sw === 0x6b00) return measured('6B00', evidence);
      if (past.sw === 0x9000 && past.data.length === 0) return measured('9000', evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'signWithoutPinSw',
    kind: 'option',
    question: 'COMPUTE DIGITAL SIGNATURE with the auth key before the PIN is verified',
    async run(session) {
      await session.selectAp('jpki');
      const key = await session.selectEf(0x0017);
      if (key.sw !== 0x9000) return unmatched(`SELECT of the auth key EF 0017 answered ${key.swText}`);
      const signed = await session.send(signCommand(true), true);
      const evidence = `80 2A 00 80 without VERIFY answered ${describe(signed)}`;
      return signed.sw === 0x9000 ? unmatched(`${evidence}: the card signed without the PIN`) : measured(signed.swText, evidence);
    },
  },
  {
    id: 'kenhojoCertificateNeedsPin',
    kind: 'option',
    question: 'READ BINARY of kenhojo EF 0004 (the card-info certificate) without the PIN',
    async run(session) {
      const read = await session.selectAndRead('kenhojo', 0x0004, 0, 1);
      const evidence = `reading 1 byte of kenhojo EF 0004 without VERIFY answered ${describe(read)}`;
      if (read.sw === 0x9000) return measured(false, evidence);
      if (read.sw === 0x6982) return measured(true, evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'getChallenge',
    kind: 'option',
    question: 'GET CHALLENGE (00 84 00 00 08) in the JPKI AP',
    async run(session) {
      await session.selectAp('jpki');
      const reply = await session.send(encodeCommandApdu({ cla: 0x00, ins: 0x84, p1: 0x00, p2: 0x00, ne: 8 }), true);
      const evidence = `00 84 00 00 08 answered ${describe(reply)}`;
      if (reply.sw === 0x6d00) return measured('unsupported', evidence);
      if (reply.sw === 0x9000 && reply.data.length === 8) return measured('supported', evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'shortLe',
    kind: 'option',
    question: 'An answer longer than Le: READ RECORD of the 住基 AP record with Le = 1',
    async run(session) {
      const ap = await session.selectAp('juki');
      if (ap.sw !== 0x9000) return unmatched(`SELECT of the 住基 AP answered ${ap.swText}`);
      const whole = await session.send(encodeCommandApdu({ cla: 0x00, ins: 0xb2, p1: 0x01, p2: 0x0c, ne: 256 }), true);
      if (whole.sw !== 0x9000 || whole.data.length < 2) return unmatched(`READ RECORD with Le 00 answered ${describe(whole)}`);
      const short = await session.send(encodeCommandApdu({ cla: 0x00, ins: 0xb2, p1: 0x01, p2: 0x0c, ne: 1 }), true);
      const evidence = `READ RECORD of the ${whole.data.length}-byte record with Le 01 answered ${describe(short)}`;
      if (short.sw === 0x9000 && short.data.length === 1) return measured('truncate', evidence);
      if ((short.sw & 0xff00) === 0x6c00 && short.data.length === 0) return measured('6Cxx', evidence);
      if ((short.sw & 0xff00) === 0x6100 && short.data.length === 1) return measured('61xx', evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'statusQueryWhenVerified',
    kind: 'option',
    question: 'The empty VERIFY (tries-left query) right after the PIN was verified',
    touchesPins: true,
    async run(session, facts) {
      const pin = firstGivenPin(session, facts);
      if (!pin) return notMeasured('needs a PIN to verify (no try is used)', kAnyPinFlag);
      const failed = await verifyGiven(session, pin);
      if (failed) return unmatched(`VERIFY of the ${kProbePins[pin].label} answered ${failed.swText}`);
      const status = await session.send(Uint8Array.of(0x00, 0x20, 0x00, 0x80), true);
      const evidence = `00 20 00 80 after VERIFY of the ${kProbePins[pin].label} answered ${status.swText}`;
      if (status.sw === 0x9000) return measured('9000', evidence);
      if ((status.sw & 0xfff0) === 0x63c0) return measured('63Cx', evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'securityOnApSwitch',
    kind: 'option',
    question: 'Whether a PIN stays verified when another AP is selected and then its own again',
    touchesPins: true,
    run: (session, facts) => securityAcross(session, facts, (home) => [home === 'jpki' ? 'kenhojo' : 'jpki', home]),
  },
  {
    id: 'securityOnReselect',
    kind: 'option',
    question: 'Whether a PIN stays verified when its own AP is selected again',
    touchesPins: true,
    run: (session, facts) => securityAcross(session, facts, (home) => [home]),
  },
  {
    id: 'signWithoutLe',
    kind: 'option',
    question: 'COMPUTE DIGITAL SIGNATURE sent as case 3 (no Le) after the PIN',
    touchesPins: true,
    async run(session, facts) {
      const pin = (['auth', 'sign'] as const).find((p) => session.pinGiven(p) && (p !== 'sign' || facts.hasSignKey !== false) && session.expected[p] !== 0);
      if (!pin) return notMeasured('needs the authentication PIN or the signing password to verify (no try is used)', '--auth-pin (or --sign-pin)');
      const failed = await verifyGiven(session, pin);
      if (failed) return unmatched(`VERIFY of the ${kProbePins[pin].label} answered ${failed.swText}`);
      const key = await session.selectEf(pin === 'auth' ? 0x0017 : 0x001a);
      if (key.sw !== 0x9000) return unmatched(`SELECT of the ${pin} key EF answered ${key.swText}`);
      const signed = await session.send(signCommand(false), true);
      const evidence = `80 2A 00 80 Lc … without Le, after VERIFY of the ${kProbePins[pin].label}, answered ${describe(signed)}`;
      if (signed.sw === 0x9000 && signed.data.length === 256) return measured('full', evidence);
      if (signed.sw === 0x6700) return measured('6700', evidence);
      return unmatched(evidence);
    },
  },
  {
    id: 'tlvLongLength',
    kind: 'option',
    question: 'How kenhojo EF 0002 (basic 4) writes a TLV length from 128 to 255: 82 00 LL or 81 LL',
    touchesPins: true,
    async run(session) {
      if (!session.pinGiven('kenhojo') || session.expected.kenhojo === 0) return notMeasured('needs the card-info PIN (no try is used; only TLV headers are read)', kProbePinFlags.kenhojo);
      const failed = await verifyGiven(session, 'kenhojo');
      if (failed) return unmatched(`VERIFY of the card-info PIN answered ${failed.swText}`);
      const ef = await session.selectEf(0x0002);
      if (ef.sw !== 0x9000) return unmatched(`SELECT of kenhojo EF 0002 answered ${ef.swText}`);
      const outer = await lengthFormAt(session, 0);
      if (!('header' in outer)) return unmatched(`reading the header of EF 0002 answered ${outer.swText}`);
      const headers = [`outer ${outer.header}`];
      let form = outer.form;
      // The DF 21 offsets (file-relative) of the name and address TLVs: their headers too.
      const offsetsAt = outer.header.length / 2;
      const offsets = await session.readBinary(offsetsAt, 11);
      if (offsets.sw === 0x9000 && offsets.data[0] === 0xdf && offsets.data[1] === 0x21 && offsets.data.length >= 7) {
        for (const [name, i] of [['name', 0], ['address', 1]] as const) {
          const at = (offsets.data[3 + 2 * i]! << 8) | offsets.data[4 + 2 * i]!;
          const inner = await lengthFormAt(session, at);
          if (!('header' in inner)) continue;
          headers.push(`${name} ${inner.header}`);
          if (form !== undefined && inner.form !== undefined && inner.form !== form) return unmatched(`the TLVs of EF 0002 mix both forms: ${headers.join(', ')}`);
          form ??= inner.form;
        }
      }
      if (!form) return notMeasured(`no TLV length of EF 0002 is between 128 and 255 (${headers.join(', ')}), where the two forms differ; a card with a longer address shows it`);
      return measured(form, `TLV headers of EF 0002: ${headers.join(', ')}`);
    },
  },
  {
    id: 'myNumberFile',
    kind: 'informative',
    compare: 'behaviour',
    question: 'kenhojo EF 0001: the tag byte and the bytes after the My Number (cardInfo.myNumberTagByte, myNumberTrailer)',
    touchesPins: true,
    async run(session) {
      if (!session.pinGiven('kenhojo') || session.expected.kenhojo === 0) return notMeasured('needs the card-info PIN (no try is used; the My Number itself is not read)', kProbePinFlags.kenhojo);
      const failed = await verifyGiven(session, 'kenhojo');
      if (failed) return unmatched(`VERIFY of the card-info PIN answered ${failed.swText}`);
      await session.selectEf(0x0001);
      // The 3-byte TLV header only: the digits stay on the card.
      const header = await session.readBinary(0, 3);
      if (header.sw !== 0x9000 || header.data.length < 3) return unmatched(`reading the header of EF 0001 answered ${describe(header)}`);
      const tagByte = toHex(header.data.subarray(0, 1));
      const end = 3 + header.data[2]!;
      const size = await measureSize(session, end, false);
      if (typeof size !== 'number') return unmatched(`reading after the My Number answered ${size.swText}`);
      const trailer = size > end ? await session.readBinary(end, size - end) : undefined;
      const trailerHex = trailer ? toHex(trailer.data) : '';
      return measured({ tagByte, trailer: trailerHex, size }, `header ${toHex(header.data)}, ${size - end} bytes after the ${header.data[2]}-byte value: ${trailerHex || 'none'}`);
    },
  },
  {
    id: 'blockedPinSw',
    kind: 'option',
    question: 'VERIFY of a blocked PIN (on a PIN already at 0 tries, or the 住基 PIN blocked with --allow-pin-tries)',
    touchesPins: true,
    async run(session) {
      const candidates: ProbePin[] = ['kenhojo', 'auth', 'sign', 'juki'];
      const blocked = candidates.find((pin) => session.expected[pin] === 0);
      const budget = session.options.allowPinTries;
      let pin: ProbePin;
      let spent = 0;
      if (blocked) {
        // A blocked PIN has no try left to lose: the lab's value (or any value) costs nothing.
        pin = blocked;
        if (!session.pinGiven(pin) && budget === undefined) return notMeasured(`the ${kProbePins[pin].label} is blocked: a VERIFY to it uses no try, but sends a value the lab did not give`, '--allow-pin-tries 0');
      } else {
        const juki = session.expected.juki;
        if (juki === null) return notMeasured('no PIN is blocked and the card has no 住基 PIN to block');
        if (budget === undefined || session.triesLeftInBudget < juki) {
          return notMeasured(`needs a blocked PIN: blocking the 住基 PIN uses its ${juki} tries (only the municipal counter can unblock it)`, `--allow-pin-tries ${juki}`);
        }
        pin = 'juki';
      }
      const ap = await session.selectAp(kProbePins[pin].ap);
      const ef = ap.sw === 0x9000 ? await session.selectEf(kProbePins[pin].ef) : ap;
      if (ef.sw !== 0x9000) return unmatched(`selecting the ${kProbePins[pin].label} answered ${ef.swText}`);
      // Made-up values, each tried once; one that happens to be the PIN answers 9000 and is skipped.
      const madeUp = ['0000', '9999', '0001', '9998', '0002', '9997', '0003', '9996', '0004', '9995', '0005', '9994', '0006', '9993', '0007', '9992'];
      while ((session.expected[pin] ?? 0) > 0) {
        const value = madeUp[spent];
        if (value === undefined) return unmatched(`the ${kProbePins[pin].label} did not block after ${spent} wrong values`);
        const reply = await session.sendMadeUpPin(pin, value);
        spent += 1;
        if (reply.sw !== 0x9000 && (reply.sw & 0xfff0) !== 0x63c0) return unmatched(`a wrong ${kProbePins[pin].label} answered ${reply.swText} with tries left`);
      }
      const last = await session.sendToBlockedPin(pin);
      const evidence = `VERIFY of the blocked ${kProbePins[pin].label} answered ${last.swText}${spent > 0 ? ` (after ${spent} wrong values blocked it)` : ''}`;
      return last.sw === 0x9000 ? unmatched(evidence) : measured(last.swText, evidence);
    },
  },
];
