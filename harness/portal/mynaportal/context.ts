/**
 * What every route plugin of one portal instance shares: the store, the verifier, the clock and
 * the settings. Passed to each plugin as an option rather than hung on the fastify instance, so a
 * plugin's dependencies are visible where it is registered.
 */
import type { KeyObject } from 'node:crypto';
import type { PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PortalLimits, StreamCounter } from './limits.js';
import type { QrEvents } from './qr-events.js';
import type { PortalStore } from './store.js';
import type { Verifier } from '../verification/types.js';

export interface PortalContext {
  readonly store: PortalStore;
  readonly verifier: Verifier;
  readonly cardInfoKey: KeyObject;
  /** The issuer's certificate-to-person register: whose card signed (holders.ts). */
  readonly holders: HolderDirectory;
  /** Mistakes made on purpose (flaws.ts); empty for a sound portal. */
  readonly flaws: ReadonlySet<PortalFlaw>;
  readonly now: () => Date;
  /** The PC agent's WebSocket URL, rendered into the login page. */
  readonly pcAgentUrl: string;
  /** The portal's URL as phones reach it, for QR payloads; the request's own origin when absent. */
  readonly publicUrl: string | undefined;
  /** Error answers carry a `detail` for reports. */
  readonly testMode: boolean;
  readonly secureCookies: boolean;
  readonly qrEvents: QrEvents;
  /** Derives each anonymous session's CSRF token from its cookie token (session.ts). */
  readonly sessionKey: Buffer;
  readonly limits: PortalLimits;
  /** Event streams open now, per browser session and in all. */
  readonly streams: StreamCounter;
  /**
   * The one per-address limit of every endpoint that checks a card signature (PC login, QR login,
   * the signing app's post): an onRequest hook, a no-op when the limit is off.
   */
  readonly limitSignatureChecks: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  readonly defects: PortalDefects;
}

/** Deliberate flaws, for proving that a negative scenario catches them (never for a real run). */
export interface PortalDefects {
  /** The session keeps its id and CSRF token through the login: a cookie planted before is logged in after. */
  keepSessionAtLogin?: boolean;
}

export interface PortalPluginOptions {
  ctx: PortalContext;
}

/** How long a login challenge, a QR code and a login waiting for card info live (docs/portal-protocols.md). */
export const kLoginStepTtlMs = 5 * 60 * 1000;
/** How long a registration (B-01 → B-02 → 完了) may take once the card has been read. */
export const kRegistrationTtlMs = 30 * 60 * 1000;
/** Idle lifetime of a browser session. */
export const kSessionIdleMs = 30 * 60 * 1000;

export function later(now: Date, ms: number): Date {
  return new Date(now.getTime() + ms);
}
