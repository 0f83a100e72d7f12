/**
 * The PC login API (docs/portal-protocols.md, "Login with an IC card reader"):
 *
 *   POST /api/login/nonce  {}                                   → { nonce, expiresAt }
 *   POST /api/login        { nonce, signature, certificate }    → { next: '/menu' | 'card-info' }
 *   POST /api/login/link   { basic4, basic4Signature }          → { next: '/menu' | '/account/new' }
 *
 * All three need the page's CSRF token (x-csrf-token) and share one rate limit per client address,
 * so that nobody can try signatures or card info at speed.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PortalPluginOptions } from '../context.js';
import { issueNonce, linkCardInfo, spendNonce, verifyLoginSignature, finishSignatureStep } from '../login-service.js';
import { base64, kEmptyBody, kNextAnswer } from '../schemas.js';
import { requireSession, rotateSession, storedSession } from '../session.js';

export interface LoginRateLimit {
  max: number;
  timeWindowMs: number;
}

export const loginRoutes: FastifyPluginAsyncTypebox<PortalPluginOptions> = async (app, { ctx }) => {
  // Every route here counts against the address's limit on card-signature checks (shared with the QR login).
  app.addHook('onRequest', ctx.limitSignatureChecks);

  app.post(
    '/api/login/nonce',
    { schema: { body: kEmptyBody, response: { 200: Type.Object({ nonce: Type.String(), expiresAt: Type.String() }) } } },
    async (request) => issueNonce(ctx, { sessionId: storedSession(ctx, request).id }),
  );

  app.post(
    '/api/login',
    {
      schema: {
        body: Type.Object(
          {
            nonce: base64(64, 'the nonce as issued'),
            signature: base64(1024, 'PKCS#1 v1.5 signature by the authentication key over SHA-256 of the nonce'),
            certificate: base64(8192, 'DER authentication certificate'),
          },
          { additionalProperties: false },
        ),
        response: { 200: kNextAnswer },
      },
    },
    async (request, reply) => {
      const session = requireSession(request);
      const nonce = spendNonce(ctx, request.body.nonce, { sessionId: session.id });
      const certificate = await verifyLoginSignature(ctx, nonce, request.body.signature, request.body.certificate);
      const next = await finishSignatureStep(ctx, session.id, certificate);
      // Logged in: a new session id and CSRF token (the card-info step keeps the page's token).
      if (next !== 'card-info') rotateSession(ctx, request, reply);
      return { next };
    },
  );

  app.post(
    '/api/login/link',
    {
      schema: {
        body: Type.Object(
          {
            basic4: base64(2048, 'kenhojo EF 0002 as read'),
            basic4Signature: base64(1024, 'kenhojo EF 0003 as read'),
          },
          { additionalProperties: false },
        ),
        response: { 200: kNextAnswer },
      },
    },
    async (request, reply) => {
      const session = requireSession(request);
      const next = linkCardInfo(ctx, session.id, session.pending, request.body.basic4, request.body.basic4Signature);
      // Logged in, or registering as the person the card named: a new session id and CSRF token.
      rotateSession(ctx, request, reply);
      return { next };
    },
  );
};
