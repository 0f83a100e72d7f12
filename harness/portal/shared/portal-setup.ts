/** What every portal's `buildApp` starts from: its fastify instance, its cookie secret, its public URL. */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';

/** A fastify instance that never listens by itself (the portal's server.ts does), closing `database` when it closes. */
export function portalFastify(logger = false, database?: { close(): void }): FastifyInstance {
  const app = Fastify({
    logger,
    // Refuse unknown fields instead of silently dropping them (fastify's default): a client that
    // sends what the protocol does not define should hear about it.
    ajv: { customOptions: { removeAdditional: false } },
  });
  if (database) {
    app.addHook('onClose', async () => {
      database.close();
    });
  }
  return app;
}

/** The given cookie secret, at least 16 characters, or a random one. */
export function cookieSecretOf(given: string | undefined): string {
  const secret = given ?? randomBytes(32).toString('base64url');
  if (secret.length < 16) throw new TypeError('cookieSecret must be at least 16 characters');
  return secret;
}

/** The URL as browsers reach it, without a trailing slash; a function when known only after listening. */
export function publicUrlOf(url: string | (() => string)): () => string {
  return () => (typeof url === 'function' ? url() : url).replace(/\/$/, '');
}

