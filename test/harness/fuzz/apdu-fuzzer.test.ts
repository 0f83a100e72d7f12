/**
 * The seeded APDU fuzzer in the suite: two seeds at a size that runs in seconds hold every
 * invariant on the emulated card (`npm run fuzz -- --count N` runs it long); and the checker itself
 * catches a card that breaks them, so that a quiet run means something.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, type CardImage } from '../../../emulator/index.js';
import { fuzzCard, type FuzzedCard } from '../../../harness/fuzz/apdu-fuzzer.js';
import { issueFixture, tempDir } from '../../support/cards.js';

describe('the seeded APDU fuzzer', () => {
  const dir = tempDir();
  let image: CardImage;
  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());

  for (const seed of [1, 20260512]) {
    it(`seed ${seed}: no escaped exception, no 6F00, registered SWs only, no try given back, no signature without its PIN`, () => {
      const report = fuzzCard(image, { count: 15_000, seed });
      expect(report.violations).toEqual([]);
      expect(report.commands).toBe(15_000);
      // The run reached the states that matter: signatures made, PINs verified and blocked.
      expect(report.signatures).toBeGreaterThan(50);
      expect(report.verifiedPins).toBeGreaterThan(50);
      expect(report.blockedPins).toBeGreaterThan(0);
      expect(report.statusWords.get('9000')).toBeGreaterThan(500);
    });
  }

  it('is the same run for the same seed', () => {
    const a = fuzzCard(image, { count: 2_000, seed: 7 });
    const b = fuzzCard(image, { count: 2_000, seed: 7 });
    expect([...a.statusWords.entries()]).toEqual([...b.statusWords.entries()]);
  });

  it('catches a card that signs without a PIN, answers 6F00 or gives tries back', () => {
    const broken = (img: CardImage): FuzzedCard => {
      const card = createMemoryCard(img);
      return {
        store: card.store,
        powerOn: () => card.powerOn(),
        powerOff: () => card.powerOff(),
        transmit: (command) => {
          if (command[0] === 0x80 && command[1] === 0x2a) return Uint8Array.of(1, 2, 3, 0x90, 0x00);
          if (command[1] === 0x84) return Uint8Array.of(0x6f, 0x00);
          if (command[1] === 0xb0) card.store.image.pins.auth.remaining = card.store.image.pins.auth.limit;
          if (command[1] === 0xca) return Uint8Array.of(0x6f, 0x42);
          return card.transmit(command);
        },
      };
    };
    const report = fuzzCard(image, { count: 5_000, seed: 3, makeCard: broken });
    const kinds = new Set(report.violations.map((v) => v.invariant.replace(/ \(.*|:.*| from .*/, '')));
    expect(kinds).toContain('a signature without the auth PIN verified in this session');
    expect([...kinds].some((k) => k.startsWith('6F00'))).toBe(true);
    expect(kinds).toContain('a status word outside the registry');
    expect([...kinds].some((k) => k.startsWith('auth PIN tries went up'))).toBe(true);
    // A violation report never shows a PIN: VERIFY data is left out.
    expect(report.violations.every((v) => !v.command.startsWith('00200080') || v.command.includes('bytes>'))).toBe(true);
  });
});
