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
import {
  createMemoryCard,
  kDefaultDefinition,
  kPinIds,
  kVpcdPort,
  loadCardDefinition,
  ServedCard,
  VpcdConnection,
  type Card,
  type CardDefinition,
  type CardImage,
  type PinId,
  type TestCa,
} from '../../emulator/index.js';
import { fromHex } from '../../iso7816/bytes.js';
import { parseResponseApdu } from '../../iso7816/apdu.js';
import { withTimeout } from '../fixtures/card-slot.js';
import { CardIssuer, definitionFile } from '../fixtures/cards.js';
import { JpkiClient } from '../jpki/jpki-client.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import { defaultVpcdHost } from '../readers/pcsc-environment.js';
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
  buildCaServer,
  loadCa,
  loadCardDefinition,
  NciCardHost,
  openSerialLink,
  publishCrls,
  ServedCard,
  VpcdConnection,
  kVpcdPort,
  readCardImage,
  revokeCardCertificate,
  serializeCardImage,
  validateCardImage,
  type CardDefinition,
  type CardImage,
  type CaServerOptions,
  type CardOptions,
  type IssuedCardImage,
  type NciHostOptions,
  type PinId,
  type RevocationReason,
  type TestCa,
} from '../../emulator/index.js';
export { CardIssuer } from '../fixtures/cards.js';
export { CardCommandError, JpkiClient, kAids, sha256DigestInfo, type CertificateKind, type JpkiPin } from '../jpki/jpki-client.js';
export { InProcessReader } from '../readers/in-process-reader.js';
export type { CardConnection, Reader } from '../readers/reader.js';
export { PcscReaderProvider } from '../readers/pcsc-reader.js';

/** A card definition: a shipped name (`adult`, `minor`, … under scenarios/cards/), a file, or fields over the default adult. */
export type CardChoice = string | Partial<CardDefinition>;

/** The definition `choice` names: a shipped name, a path to a YAML file, or fields over the default. */
export function cardDefinition(choice: CardChoice = 'adult'): CardDefinition {
  if (typeof choice !== 'string') return { ...kDefaultDefinition, ...choice } as CardDefinition;
  return loadCardDefinition(definitionFile(choice));
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
  /** The emulated card itself (its image holds the live PIN counters and lifecycle). */
  readonly card: Card;
  /**
   * Sends one command APDU (bytes, or hex such as `'00A4040C0ADA1111111111111111'`, spaces
   * allowed) on the connection; gives the response data and status word.
   */
  transmit(command: Uint8Array | string): Promise<{ data: Uint8Array; sw: number }>;
  /** The card's state as its chip holds it, read without an APDU. */
  state(): CardStateSummary;
  /** Takes the card out of the reader (powering it off: verified PINs are forgotten). */
  remove(): void;
  /** Puts it back and connects again (the client keeps working). */
  insert(): Promise<void>;
  /**
   * Serves the card to pcscd through a vpcd slot (0 or 1: readers "Virtual PCD 00 00"/"… 01"), so
   * that PC/SC clients (OpenSC, your own) see it; resolves when pcscd took it. Stop it with the
   * returned connection's `stop()`. Needs pcscd with the vpcd driver (`jpki-hil doctor`).
   */
  serveVpcd(options?: { slot?: number; host?: string }): Promise<VpcdConnection>;
  /** Disconnects, stops serving, and removes the CA directory when openTestCard made it. */
  close(): Promise<void>;
}

/** One PIN's counter. */
export interface PinCounter {
  triesLeft: number;
  limit: number;
  blocked: boolean;
}

/** What `TestCard.state()` reads: every PIN's counter and the card's lifecycle. */
export interface CardStateSummary {
  lifecycle: CardImage['lifecycle'];
  pins: Record<PinId, PinCounter>;
}

/** The counters and lifecycle of a card, from its image. */
export function cardState(card: Card): CardStateSummary {
  const image = card.store.image;
  const pins = Object.fromEntries(
    kPinIds.map((id) => {
      const pin = image.pins[id];
      return [id, { triesLeft: pin.remaining, limit: pin.limit, blocked: pin.remaining === 0 }];
    }),
  ) as Record<PinId, PinCounter>;
  return { lifecycle: image.lifecycle, pins };
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
    const card = createMemoryCard(image);
    const reader = new InProcessReader('jpki-hil in-process reader', card);
    let connection = await reader.connect();
    // The client goes through this channel, so that it follows a new connection after insert().
    const client = new JpkiClient({ transmit: (command) => connection.transmit(command) });
    const served: VpcdConnection[] = [];
    return {
      definition,
      image,
      ca: issuer.ca,
      caDir,
      reader,
      get connection() {
        return connection;
      },
      client,
      pins: definition.pins,
      card,
      transmit: async (command) => {
        const { data, sw } = parseResponseApdu(await connection.transmit(typeof command === 'string' ? fromHex(command) : command));
        return { data, sw };
      },
      state: () => cardState(card),
      remove: () => reader.remove(),
      insert: async () => {
        if (!reader.cardPresent()) reader.insert();
        connection = await reader.connect();
      },
      serveVpcd: async (serve = {}) => {
        const slot = serve.slot ?? 0;
        if (!Number.isInteger(slot) || slot < 0 || slot > 1) throw new RangeError(`vpcd has slots 0 and 1, not ${slot}`);
        const vpcd = new VpcdConnection(new ServedCard(card), { host: serve.host ?? defaultVpcdHost(), port: kVpcdPort + slot });
        served.push(vpcd);
        try {
          await withTimeout(vpcd.insert(), 10_000, `vpcd slot ${slot} (port ${kVpcdPort + slot}) did not take the card within 10 s: is pcscd running with the vpcd driver? (jpki-hil doctor)`);
        } catch (e) {
          vpcd.stop();
          throw e;
        }
        return vpcd;
      },
      close: async () => {
        for (const vpcd of served) vpcd.stop();
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
