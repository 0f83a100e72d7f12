import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardDefinitionError, CardImageError, loadCardDefinition, readCardImage, serializeCardImage, validateCardImage, type CardImage } from '../../../emulator/index.js';
import { issueFixture, tempDir } from '../../support/cards.js';

describe('card images and card definitions refuse bad data, naming the field', () => {
  const dir = tempDir();
  let image: CardImage;

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());

  const broken = (change: (json: Record<string, unknown>) => void): unknown => {
    const json = JSON.parse(serializeCardImage(image)) as Record<string, unknown>;
    change(json);
    return json;
  };

  it('names the bad field of a card image', () => {
    const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
      ['version', (j) => (j.version = 2), /^version: 2 is not supported/],
      ['format', (j) => (j.format = 'x'), /^format: must be "jpki-hil\/card-image"/],
      ['remaining', (j) => ((j.pins as { auth: { remaining: number } }).auth.remaining = 4), /^pins\.auth\.remaining: must be an integer from 0 to 3/],
      ['pin missing', (j) => delete (j.pins as Record<string, unknown>).sign, /^pins: missing required field "sign"/],
      ['file id', (j) => ((j.applets as { jpki: { files: Record<string, string> } }).jpki.files['00a'] = 'AA=='), /^applets\.jpki\.files\.00a: "00a" is not a file id of 4 upper-case hex digits/],
      ['option', (j) => ((j.options as Record<string, unknown>).blockedPinSw = '9000'), /^options\.blockedPinSw: "9000" is not one of 6983, 6984, 63C0/],
      ['key', (j) => ((j.applets as { jpki: { keys: { auth: string } } }).jpki.keys.auth = 'nope'), /^applets\.jpki\.keys\.auth: "nope" is not a PKCS#8 PEM private key/],
    ];
    for (const [, change, message] of cases) {
      expect(() => validateCardImage(broken(change))).toThrow(message);
    }
    expect(() => validateCardImage(broken(() => undefined))).not.toThrow();
  });

  it('names the file when a card image on disk is broken, and says how to make one when it is missing', () => {
    const path = join(dir.path, 'broken.json');
    writeFileSync(path, JSON.stringify(broken((j) => ((j.identity as Record<string, string>).birth = '1985/04/01'))));
    expect(() => readCardImage(path)).toThrow(CardImageError);
    expect(() => readCardImage(path)).toThrow(`${path}: identity.birth: "1985/04/01" is not a date YYYY-MM-DD`);
    writeFileSync(path, '{ not json');
    expect(() => readCardImage(path)).toThrow(/not valid JSON/);
    expect(() => readCardImage(join(dir.path, 'missing.json'))).toThrow(/jpki-hil card issue --out/);
  });

  it('checks a card definition against its schema: an unquoted PIN is its digits, a typo gets a suggestion', () => {
    const path = join(dir.path, 'schema.yaml');
    writeFileSync(path, ['pins:', '  auth: 4321', 'certificates:', '  revoked:', '    sign: afiliationChanged'].join('\n'));
    expect(() => loadCardDefinition(path)).toThrow(`${path}:5: certificates.revoked.sign: "afiliationChanged" is not one of`);
    expect(() => loadCardDefinition(path)).toThrow('(did you mean "affiliationChanged"?)');
    writeFileSync(path, ['pins:', '  auth: 4321', 'identity:', '  name:'].join('\n'));
    const definition = loadCardDefinition(path);
    expect(definition.pins.auth).toBe('4321');
    expect(definition.identity.name).toBe('番号　太郎');
    writeFileSync(path, 'tries:\n  sign:\n    limit: many\n');
    expect(() => loadCardDefinition(path)).toThrow(`${path}:3: tries.sign.limit: must be an integer from 0 to 15, not a string`);
  });

  it('names file, line and field of a bad card definition', () => {
    const path = join(dir.path, 'bad.yaml');
    writeFileSync(path, ['description: test', 'identity:', '  name: 試験', '  birth: 1990-13-01x', 'pins:', "  auth: '12'"].join('\n'));
    expect(() => loadCardDefinition(path)).toThrow(CardDefinitionError);
    expect(() => loadCardDefinition(path)).toThrow(`${path}:4: identity.birth: "1990-13-01x" is not a date YYYY-MM-DD`);
    writeFileSync(path, ['identity:', '  name: 試験', 'pins:', "  auth: '12'"].join('\n'));
    expect(() => loadCardDefinition(path)).toThrow(`${path}:4: pins.auth: "12" is not 4 digits`);
    writeFileSync(path, 'tries:\n  auth:\n    remaining: 99\n');
    expect(() => loadCardDefinition(path)).toThrow(/:3: tries\.auth\.remaining: must be an integer from 0 to 15/);
    writeFileSync(path, 'colour: blue\n');
    expect(() => loadCardDefinition(path)).toThrow(/colour: unknown field "colour" \(known: id, description, identity/);
    writeFileSync(path, 'identity: [\n');
    expect(() => loadCardDefinition(path)).toThrow(/\(syntax\)/);
  });
});
