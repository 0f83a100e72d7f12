/**
 * jpki-hil as a library: the package's main entry (`import … from 'jpki-hil'`). The emulated My
 * Number Card in process, the JPKI client that talks to it, and the test CA that issues it — the
 * same modules the `jpki-hil` runner uses. docs/library.md shows them in use.
 *
 * ```ts
 * import { openTestCard } from 'jpki-hil';
 * const card = await openTestCard({ card: 'adult' });
 * await card.client.verifyPin('auth', card.pins.auth);
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCard, kDefaultDefinition, loadCardDefinition, type CardDefinition, type CardImage, type TestCa } from '../../emulator/index.js';
import { CardIssuer } from '../fixtures/cards.js';
import { JpkiClient } from '../jpki/jpki-client.js';
import { kCardDefinitionsDir } from '../package-root.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import type { CardConnection } from '../readers/reader.js';

export {
  Card,
  CardDefinitionError,
  CardImageError,
  createMemoryCard,
  initCa,
  issueCard,
  kCardOptionChoices,
  kDefaultCardOptions,
  kDefaultDefinition,
  kPinIds,
  loadCa,
  loadCardDefinition,
  publishCrls,
  readCardImage,
  revokeCardCertificate,
  serializeCardImage,
  validateCardImage,
  type CardDefinition,
  type CardImage,
  type CardOptions,
  type IssuedCardImage,
  type PinId,
  type RevocationReason,
  type TestCa,
} from '../../emulator/index.js';
export { CardIssuer } from '../fixtures/cards.js';
export { CardCommandError, JpkiClient, kAids, sha256DigestInfo, type CertificateKind, type JpkiPin } from '../jpki/jpki-client.js';
export { InProcessReader } from '../readers/in-process-reader.js';
export type { CardConnection, Reader } from '../readers/reader.js';

/** A card definition: a shipped name (`adult`, `minor`, … under scenarios/cards/), a file, or fields over the default adult. */
export type CardChoice = string | Partial<CardDefinition>;

/** The definition `choice` names: a shipped name, a path to a YAML file, or fields over the default. */
export function cardDefinition(choice: CardChoice = 'adult'): CardDefinition {
  if (typeof choice !== 'string') return { ...kDefaultDefinition, ...choice } as CardDefinition;
  return loadCardDefinition(/[/\\]|\.ya?ml$/.test(choice) ? choice : join(kCardDefinitionsDir, `${choice}.yaml`));
}

/** An issued card in an in-process reader, connected, with a JPKI client over the connection. */
export interface TestCard {
  readonly definition: CardDefinition;
  readonly image: CardImage;
  /** The CA that issued it (its directory holds the CA certificates, CRLs and the card-info key). */
  readonly ca: TestCa;
  readonly caDir: string;
  readonly reader: InProcessReader;
  readonly connection: CardConnection;
  readonly client: JpkiClient;
  /** The card's PINs, as the definition set them. */
  readonly pins: CardDefinition['pins'];
  /** Disconnects, and removes the CA directory when openTestCard made it. */
  close(): Promise<void>;
}

/**
 * Issues a card from a definition by a test CA (a fresh one in a temporary directory unless
 * `caDir` names one to create or reuse) and opens it in an in-process reader: no pcscd, no
 * native module, no browser needed.
 */
export async function openTestCard(options: { card?: CardChoice; caDir?: string } = {}): Promise<TestCard> {
  const made = options.caDir === undefined ? mkdtempSync(join(tmpdir(), 'jpki-hil-ca-')) : undefined;
  const caDir = options.caDir ?? join(made!, 'ca');
  try {
    const definition = cardDefinition(options.card);
    const issuer = CardIssuer.open(caDir);
    const image = await issuer.issue(definition);
    const reader = new InProcessReader('jpki-hil in-process reader', createMemoryCard(image));
    const connection = await reader.connect();
    return {
      definition,
      image,
      ca: issuer.ca,
      caDir,
      reader,
      connection,
      client: new JpkiClient(connection),
      pins: definition.pins,
      close: async () => {
        await connection.disconnect('reset').catch(() => undefined);
        await reader.close();
        if (made) rmSync(made, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (made) rmSync(made, { recursive: true, force: true });
    throw e;
  }
}
