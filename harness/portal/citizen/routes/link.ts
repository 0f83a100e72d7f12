/**
 * Linking the city ID through the IdP (マイナンバーカード連携): 「連携する」 starts an authorization
 * request whose state, nonce and PKCE verifier stay in the session; the callback takes them out
 * (once: a replayed callback finds nothing), has the OpenID Connect client check the authorization
 * response (iss, state), exchange the code and check the ID token, and creates the
 * profile from the basic 4 on the first link, ending on 「連携が完了しました」.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { kCallbackPath, redirectUriOf, type CitizenContext } from '../context.js';
import { CitizenError } from '../errors.js';
import type { CitizenSession } from '../sessions.js';
import { renderLinked, renderLinkStart } from '../views.js';

function html(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

function loggedIn(request: FastifyRequest): CitizenSession & { accountId: string } {
  const session = request.citizenSession;
  if (!session?.accountId) throw new CitizenError('LOGIN_REQUIRED', 'linking needs a logged-in account');
  return session as CitizenSession & { accountId: string };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function linkRoutes(app: FastifyInstance, { ctx }: { ctx: CitizenContext }): Promise<void> {
  app.get('/link', async (request, reply) => html(reply, renderLinkStart({ csrfToken: loggedIn(request).csrfToken })));

  app.post('/link/start', async (request, reply) => {
    const session = loggedIn(request);
    const redirectUri = redirectUriOf(ctx);
    const start = await ctx.oidc.start(redirectUri);
    session.link = { state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, redirectUri };
    return reply.redirect(start.url, 303);
  });

  app.get(kCallbackPath, async (request, reply) => {
    const session = loggedIn(request);
    const query = request.query as Record<string, unknown>;
    const pending = session.link;
    // Taken out at once: whatever happens next, this state cannot be used a second time.
    session.link = undefined;
    const state = typeof query.state === 'string' ? query.state : '';
    if (!pending || !sameText(state, pending.state)) throw new CitizenError('LINK_STATE_INVALID', pending ? 'state differs from the one sent' : 'no link in progress (replayed or stale callback)');
    // The authorization response as the browser brought it: openid-client checks iss (RFC 9207) and
    // state, takes the code or the error, and exchanges the code against the same redirect URI.
    const callbackUrl = new URL(pending.redirectUri);
    callbackUrl.search = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const identity = await ctx.oidc.finish({ callbackUrl, state: pending.state, nonce: pending.nonce, codeVerifier: pending.codeVerifier });
    const owner = ctx.store.accountOfSubject(identity.issuer, identity.subject);
    if (owner !== undefined && owner !== session.accountId) throw new CitizenError('ALREADY_LINKED', 'the subject is linked to another account');
    const profile = { ...identity, linkedAt: ctx.now().toISOString() };
    const { created } = ctx.store.saveProfile(session.accountId, profile);
    return html(reply, renderLinked(profile, created));
  });
}
