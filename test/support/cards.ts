/**
 * Test fixtures: a test CA in a temporary directory and cards issued from the definitions under
 * scenarios/cards/, as `jpki-hil card issue` would make them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMemoryCard,
  initCa,
  issueCard,
  loadCardDefinition,
  type Card,
  type CardDefinition,
  type CardImage,
  type CardRuntimeOptions,
  type TestCa,
} from '../../emulator/index.js';
import { encodeCommandApdu, parseResponseApdu, type CommandSpec } from '../../iso7816/apdu.js';
import { fromHex, toHex } from '../../iso7816/bytes.js';
import { swHex } from '../../iso7816/status-words.js';

export const kPackageRoot = join(import.meta.dirname, '..', '..');
export const kCardsDir = join(kPackageRoot, 'scenarios', 'cards');

export function tempDir(prefix = 'jpki-hil-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function definition(name: string): CardDefinition {
  return loadCardDefinition(join(kCardsDir, `${name}.yaml`));
}

export interface IssuedFixture {
  ca: TestCa;
  image: CardImage;
  definition: CardDefinition;
}

/** Issues a card from scenarios/cards/<name>.yaml with a CA in `dir` (created when missing). */
export async function issueFixture(dir: string, name: string, change?: (d: CardDefinition) => CardDefinition): Promise<IssuedFixture> {
  const ca = initCa(join(dir, 'ca'));
  const def = change ? change(definition(name)) : definition(name);
  const { image } = await issueCard(ca, def);
  return { ca, image, definition: def };
}

/** A powered in-memory card with a `send` helper that returns hex data and the SW as text. */
export function powered(image: CardImage, options?: CardRuntimeOptions): Card & { send(hex: string): { data: string; sw: string } } {
  const card = createMemoryCard(image, options) as Card & { send(hex: string): { data: string; sw: string } };
  card.powerOn();
  card.send = (hex: string) => {
    const r = parseResponseApdu(card.transmit(fromHex(hex)));
    return { data: toHex(r.data), sw: swHex(r.sw) };
  };
  return card;
}

export function apdu(spec: CommandSpec): string {
  return toHex(encodeCommandApdu(spec));
}
