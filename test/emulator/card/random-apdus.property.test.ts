/**
 * The card under a storm of random and mutated APDUs: it never throws, every answer is a
 * well-formed R-APDU with a registered SW (never 61xx or 6Cxx), and no PIN counter moves except
 * through VERIFY.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, kPinIds, type CardImage } from '../../../emulator/index.js';
import { encodeCommandApdu } from '../../../iso7816/apdu.js';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { isRegisteredSw, swHex } from '../../../iso7816/status-words.js';
import { sha256DigestInfo } from '../../../harness/jpki/jpki-client.js';
import { issueFixture, tempDir } from '../../support/cards.js';

const kRuns = 1000;
const kCommandsPerRun = 100;

const kAids = ['D392F000260100000001', 'D3921000310001010408', 'D3921000310001010402', 'D3921000310001010100', 'A000000001010', 'D392F0'].map((h) =>
  fromHex(h.length % 2 ? `${h}0` : h),
);
const kFids = [0x0001, 0x0002, 0x0005, 0x0006, 0x000a, 0x000b, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x0017, 0x0018, 0x001a, 0x001b, 0x001c, 0x3f00, 0xffff];

/** A valid session prefix that random mutations start from: reach states with PINs verified. */
function validSequence(image: CardImage): Uint8Array[] {
  const hex = (s: string): Uint8Array => fromHex(s);
  const pin = (v: string): Uint8Array => Uint8Array.from(Buffer.from(v, 'latin1'));
  return [
    hex('00A4040C0AD392F000260100000001'),
    hex('00A4020C020018'),
    encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: pin(image.pins.auth.value) }),
    hex('00A4020C020017'),
    encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: sha256DigestInfo(Buffer.from('x')), ne: 256 }),
    hex('00A4020C02001B'),
    encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: pin(image.pins.sign.value) }),
    hex('00A4020C020001'),
    hex('00B0000004'),
    hex('00B00000000000'),
    hex('00A4040C0AD3921000310001010408'),
    encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x91, data: pin(image.pins.kenhojo.value) }),
    hex('00B0810000'),
    hex('00A4040C0AD3921000310001010100'),
    hex('00B2010C00'),
  ];
}

function arbitraries(image: CardImage): fc.Arbitrary<Uint8Array> {
  const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 0, maxLength: max });
  const random = bytes(300);
  const structured = fc
    .record({
      cla: fc.oneof(fc.constantFrom(0x00, 0x80, 0x0c, 0x84, 0x10, 0x01), fc.integer({ min: 0, max: 255 })),
      ins: fc.oneof(fc.constantFrom(0xa4, 0xb0, 0xb1, 0xb2, 0x20, 0x24, 0x2a, 0x84, 0x88, 0xc0, 0xca, 0xcb), fc.integer({ min: 0, max: 255 })),
      p1: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x80, 0x81, 0x82, 0x8a, 0x9e), fc.integer({ min: 0, max: 255 })),
      p2: fc.oneof(fc.constantFrom(0x00, 0x04, 0x0c, 0x80, 0x91, 0x98, 0x9b, 0x0c, 0x9f), fc.integer({ min: 0, max: 255 })),
      data: fc.oneof(
        fc.constant(new Uint8Array(0)),
        fc.constantFrom(...kAids),
        fc.constantFrom(...kFids).map((f) => Uint8Array.of(f >> 8, f & 0xff)),
        fc.constantFrom(image.pins.auth.value, image.pins.sign.value, '0000', '12345678').map((p) => Uint8Array.from(Buffer.from(p))),
        bytes(260),
      ),
      ne: fc.option(fc.oneof(fc.constantFrom(1, 4, 7, 17, 32, 255, 256, 257, 65536), fc.integer({ min: 1, max: 65536 })), { nil: undefined }),
      extended: fc.boolean(),
    })
    .map((s) => encodeCommandApdu(s));
  const valid = validSequence(image);
  const mutated = fc
    .record({
      base: fc.constantFrom(...valid),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
      kind: fc.constantFrom('flip', 'truncate', 'extend', 'same'),
    })
    .map(({ base, at, value, kind }) => {
      const copy = Uint8Array.from(base);
      const i = at % copy.length;
      if (kind === 'flip') copy[i] = value;
      if (kind === 'truncate') return copy.subarray(0, i);
      if (kind === 'extend') return Uint8Array.from([...copy, value]);
      return copy;
    });
  return fc.oneof({ arbitrary: random, weight: 2 }, { arbitrary: structured, weight: 4 }, { arbitrary: mutated, weight: 4 });
}

describe('random and mutated APDUs', () => {
  const dir = tempDir();
  let image: CardImage;

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());

  it(`${kRuns * kCommandsPerRun} commands: no throw, well-formed answers, counters move only through VERIFY`, () => {
    const seen = new Map<string, number>();
    let sent = 0;
    fc.assert(
      fc.property(fc.array(arbitraries(image), { minLength: kCommandsPerRun, maxLength: kCommandsPerRun }), (commands) => {
        const logged: string[] = [];
        const card = createMemoryCard(image, { logger: { error: (m) => logged.push(m) } });
        card.powerOn();
        const pins = card.store.image.pins;
        for (const command of commands) {
          const before = kPinIds.map((id) => pins[id].remaining);
          const response = card.transmit(command);
          sent++;
          expect(response.length).toBeGreaterThanOrEqual(2);
          const sw = (response[response.length - 2]! << 8) | response[response.length - 1]!;
          if (!isRegisteredSw(sw)) throw new Error(`unregistered SW ${swHex(sw)} for ${toHex(command)}`);
          expect(sw >> 8).not.toBe(0x61);
          expect(sw >> 8).not.toBe(0x6c);
          // Only a successful command returns data.
          if (sw !== 0x9000) expect(response.length).toBe(2);
          seen.set(swHex(sw), (seen.get(swHex(sw)) ?? 0) + 1);
          const after = kPinIds.map((id) => pins[id].remaining);
          if (command[1] !== 0x20 || command[0] !== 0x00) expect(after).toEqual(before);
        }
        // 6F00 (an internal error) would mean an applet bug: none may occur.
        expect(logged).toEqual([]);
      }),
      { numRuns: kRuns },
    );
    expect(sent).toBe(kRuns * kCommandsPerRun);
    // The mix must reach the interesting answers, not only errors.
    for (const sw of ['9000', '6A82', '6D00', '6E00', '6700', '6A86', '6982']) expect(seen.get(sw) ?? 0).toBeGreaterThan(0);
    expect([...seen.keys()].some((s) => s.startsWith('63C'))).toBe(true);
  }, 300_000);
});
