/**
 * `readers` and `info` over in-process readers: the commands are built over any ReaderProvider, so
 * their output and errors are checked here without pcscd (test/pcsc/readers.test.ts runs them on PC/SC).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, type Card } from '../../../emulator/index.js';
import { fromBase64 } from '../../../iso7816/bytes.js';
import { createReaderCommands, type CardInfo } from '../../../harness/cli/commands/readers.js';
import { InProcessReaderProvider } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';
import { runRegistrar } from './run-registrar.js';

describe('jpki-hil readers and info (over in-process readers)', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let card: Card;
  /** Whether the next provider has the card in reader 1; the same Card object keeps its PIN state across commands. */
  let cardInserted = true;
  const register = createReaderCommands(() => {
    const provider = new InProcessReaderProvider();
    provider.add('Emulated reader 0');
    provider.add('Emulated reader 1', cardInserted ? card : undefined);
    return provider;
  });
  const cli = (...argv: string[]) => runRegistrar(register, argv);
  const serialOf = (fid: string): string => new X509Certificate(fromBase64(fixture.image.applets.jpki.files[fid]!)).serialNumber.toUpperCase();

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
    card = createMemoryCard(fixture.image);
  });
  afterAll(() => dir.remove());

  it('readers lists every reader with card presence and ATR', async () => {
    const json = await cli('readers', '--json');
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toEqual([
      { name: 'Emulated reader 0', cardPresent: false },
      { name: 'Emulated reader 1', cardPresent: true, atr: fixture.image.atr },
    ]);
    const text = await cli('readers');
    expect(text.out).toMatch(/^Emulated reader 0 {2}no card$/m);
    expect(text.out).toContain(`Emulated reader 1  card     ATR ${fixture.image.atr}`);
  });

  it('info reads the first reader with a card: token, certificates, tries left; the signature certificate stays locked without the password', async () => {
    const r = await cli('info', '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as CardInfo;
    expect(info.reader).toBe('Emulated reader 1');
    expect(info.atr).toBe(fixture.image.atr);
    expect(info.token).toBe('JPKIAPICCTOKEN2');
    expect(info.certificates.auth?.serial).toBe(serialOf('000A'));
    expect(info.certificates.authCa?.serial).toBe(serialOf('000B'));
    expect(info.certificates.signCa?.serial).toBe(serialOf('0002'));
    expect(info.certificates.auth?.subject).toBe(new X509Certificate(fromBase64(fixture.image.applets.jpki.files['000A']!)).subject.replace(/\n/g, ', '));
    expect(info.certificates.auth?.expired).toBe(false);
    expect(info.certificates.sign).toBeNull();
    expect(info.locked).toEqual(['sign']);
    expect(info.triesLeft).toEqual({ auth: 3, sign: 5, kenhojo: 3 });
    expect(info.myNumber).toBeUndefined();

    const text = await cli('info');
    expect(text.out).toContain('token      JPKIAPICCTOKEN2');
    expect(text.out).toMatch(/signature certificate: locked/);
    expect(text.out).toMatch(new RegExp(`authentication certificate:\\n\\s+subject .+\\n\\s+serial\\s+${serialOf('000A')}`));
    expect(text.out).toContain('tries left auth 3, sign 5, kenhojo 3');
  });

  it('info with the card-info PIN and signing password adds the My Number, basic 4 and signature certificate, and leaves nothing verified', async () => {
    const r = await cli('info', '--reader', 'reader 1', '--kenhojo-pin', fixture.definition.pins.kenhojo, '--sign-pin', fixture.definition.pins.sign.toLowerCase(), '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as CardInfo;
    expect(info.myNumber).toBe(fixture.image.identity.myNumber);
    expect(info.basic4).toEqual({ name: fixture.image.identity.name, address: fixture.image.identity.address, birth: fixture.image.identity.birth, sex: fixture.image.identity.sex });
    expect(info.certificates.sign?.serial).toBe(serialOf('0001'));
    expect(info.locked).toEqual([]);
    // The command disconnects with a reset: no PIN stays verified on the card.
    expect(card.session.verified).toEqual([]);

    const text = await cli('info', '--kenhojo-pin', fixture.definition.pins.kenhojo);
    expect(text.out).toContain(`My Number  ${fixture.image.identity.myNumber}`);
    expect(text.out).toContain(`name       ${fixture.image.identity.name}`);
  });

  it('a malformed PIN is refused before the card sees it; a wrong one reports the tries left', async () => {
    const malformed = await cli('info', '--kenhojo-pin', '12');
    expect(malformed.code).toBe(1);
    expect(malformed.err).toMatch(/--kenhojo-pin: the kenhojo PIN must be/);
    expect(card.store.image.pins.kenhojo.remaining).toBe(3);

    const wrong = await cli('info', '--kenhojo-pin', fixture.definition.pins.kenhojo === '9999' ? '9998' : '9999');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toBe('wrong kenhojo PIN: 2 tries left before it blocks');
    // The right PIN restores the count, as on the card.
    expect((await cli('info', '--kenhojo-pin', fixture.definition.pins.kenhojo)).code).toBe(0);
    expect(card.store.image.pins.kenhojo.remaining).toBe(3);
  });

  it('info without a card, or with an unknown reader, fails with exit 1 and says what to do', async () => {
    cardInserted = false;
    try {
      const none = await cli('info');
      expect(none.code).toBe(1);
      expect(none.err).toMatch(/^no card in any reader \("Emulated reader 0", "Emulated reader 1"\); insert one, or serve an emulated card/);
      const named = await cli('info', '--reader', 'Emulated reader 1');
      expect(named.code).toBe(1);
      expect(named.err).toMatch(/^no card in reader "Emulated reader 1"; insert one/);
    } finally {
      cardInserted = true;
    }
    const unknown = await cli('info', '--reader', 'Virtual PCD');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no reader named "Virtual PCD" (or uniquely containing it); the readers are: "Emulated reader 0", "Emulated reader 1"');
  });
});
