/**
 * マイナンバーカード連携 through the xID-like app. The browser side: 「連携する」 opens a one-time
 * transaction and shows its QR code and deep link on a page that refreshes itself until the phone
 * has answered (→ マイページ, 連携済み) or was refused (→ the reason). The phone side (JSON, no
 * cookies; the transaction's token is the credential): the challenge, then the card's
 * authentication signature over it with the certificate and the basic 4 with EF 0003. The portal
 * checks the signature (chain, validity, revocation; an authentication certificate), asks the
 * issuer's certificate-to-person register whose card it is, checks the basic 4 against the
 * card-info key and against the issuer's digest of that card, and that the person is not linked
 * to another account.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { CardInfoError, verifyCardInfo, type PersonIdentity } from '../../shared/card-info.js';
import { HolderDirectoryError, type CertificateHolder } from '../../shared/holders.js';
import { VerificationInputError } from '../../verification/errors.js';
import { loggedIn, sendHtml, type MyPageContext } from '../context.js';
import { MyPageError } from '../errors.js';
import { kDeepLinkPath, type LinkTransaction } from '../link-transactions.js';
import { renderLinkFailed, renderLinkStart, renderLinkWaiting } from '../views.js';

const kBase64 = '^[A-Za-z0-9+/]+={0,2}$';
const kIds = { tx: { type: 'string', minLength: 1, maxLength: 64 }, t: { type: 'string', minLength: 1, maxLength: 128 } } as const;

function bodySchema(extra: Record<string, unknown>): object {
  return { body: { type: 'object', additionalProperties: false, required: ['tx', 't', ...Object.keys(extra)], properties: { ...kIds, ...extra } } };
}

export async function linkPageRoutes(app: FastifyInstance, { ctx }: { ctx: MyPageContext }): Promise<void> {
  /** Deep links of transactions still waiting, for their waiting page; dropped once answered. */
  const pendingLinks = new Map<string, string>();

  app.get('/mypage/link', async (request, reply) => sendHtml(reply, renderLinkStart({ csrfToken: loggedIn(request).csrfToken })));

  app.post('/mypage/link/start', async (request, reply) => {
    const session = loggedIn(request);
    const { transaction, token } = ctx.transactions.open(session.accountId);
    // The token goes to the page once, inside the QR code and the deep link; the portal keeps its hash.
    const deepLink = `${ctx.publicUrl()}${kDeepLinkPath}?${new URLSearchParams({ tx: transaction.id, t: token }).toString()}`;
    pendingLinks.set(transaction.id, deepLink);
    return reply.redirect(`/mypage/link/wait/${encodeURIComponent(transaction.id)}`, 303);
  });

  app.get('/mypage/link/wait/:id', async (request, reply) => {
    const session = loggedIn(request);
    const { id } = request.params as { id: string };
    const transaction = ctx.transactions.ofAccount(id, session.accountId);
    if (!transaction) throw new MyPageError('TRANSACTION_UNKNOWN', 'no transaction of this account with this id');
    if (transaction.state === 'linked') {
      pendingLinks.delete(id);
      session.flash = 'マイナンバーカードの連携が完了しました';
      return reply.redirect('/mypage', 303);
    }
    if (transaction.state === 'failed' && transaction.failure) {
      pendingLinks.delete(id);
      return sendHtml(reply, renderLinkFailed(transaction.failure.code, transaction.failure.message), 200);
    }
    const deepLink = pendingLinks.get(id);
    if (ctx.transactions.expired(transaction) || deepLink === undefined) {
      pendingLinks.delete(id);
      const error = new MyPageError('TRANSACTION_EXPIRED');
      return sendHtml(reply, renderLinkFailed(error.code, error.userMessage), 200);
    }
    const qrImage = await QRCode.toDataURL(deepLink, { errorCorrectionLevel: 'M', margin: 4, scale: 4 });
    return sendHtml(reply, renderLinkWaiting({ deepLink, qrImage }));
  });

}

/** The xID-like app's API: JSON, no cookies, no CSRF (the transaction's token is the credential). */
export async function xidApiRoutes(app: FastifyInstance, { ctx }: { ctx: MyPageContext }): Promise<void> {
  /** Spends the transaction with a refusal the PC page shows, and throws it to the phone. */
  const refuse = (transaction: LinkTransaction, error: MyPageError): never => {
    transaction.state = 'failed';
    transaction.challenge = undefined;
    transaction.failure = { code: error.code, message: error.userMessage };
    throw error;
  };

  app.post('/api/xid/challenge', { schema: bodySchema({}) }, async (request) => {
    const body = request.body as { tx: string; t: string };
    const transaction = ctx.transactions.forPhone(body.tx, body.t);
    if (transaction.state !== 'waiting') throw new MyPageError('TRANSACTION_USED', 'the challenge was already given out');
    transaction.challenge = randomBytes(32);
    transaction.state = 'challenged';
    return { challenge: transaction.challenge.toString('base64'), service: 'SENDAIポータル（テスト）' };
  });

  app.post(
    '/api/xid/link',
    {
      schema: bodySchema({
        signature: { type: 'string', pattern: kBase64, maxLength: 1024 },
        certificate: { type: 'string', pattern: kBase64, maxLength: 8192 },
        basic4: { type: 'string', pattern: kBase64, maxLength: 2048 },
        basic4Signature: { type: 'string', pattern: kBase64, maxLength: 2048 },
      }),
    },
    async (request) => {
      const body = request.body as { tx: string; t: string; signature: string; certificate: string; basic4: string; basic4Signature: string };
      const transaction = ctx.transactions.forPhone(body.tx, body.t);
      const challenge = transaction.challenge;
      if (transaction.state !== 'challenged' || !challenge) throw new MyPageError('TRANSACTION_STATE', 'ask for the challenge first');
      const result = await ctx.verifier
        .verifySignature({ certificate: Buffer.from(body.certificate, 'base64'), signature: Buffer.from(body.signature, 'base64'), data: challenge, kind: 'auth' }, { at: ctx.now() })
        .catch((e: unknown) => {
          // Bytes that are no certificate at all: the app's request is wrong; the transaction is spent.
          if (e instanceof VerificationInputError) return refuse(transaction, new MyPageError('CERTIFICATE_INVALID', e.message));
          throw e;
        });
      if (result.code !== 'OK' || !result.certificate) return refuse(transaction, new MyPageError(result.code === 'OK' ? 'UNSUPPORTED_CERTIFICATE' : result.code, result.detail));
      // Whose card it is, the issuer says; the card-info files only fill the profile in, and must be this card's.
      let holder: CertificateHolder | undefined;
      if (!ctx.flaws.has('trust-client-card-info')) {
        try {
          holder = await ctx.holders.holderOf(result.certificate.issuer, result.certificate.serial);
        } catch (e) {
          if (!(e instanceof HolderDirectoryError)) throw e;
          return refuse(transaction, new MyPageError('HOLDER_UNAVAILABLE', e.message));
        }
        if (!holder) return refuse(transaction, new MyPageError('HOLDER_UNKNOWN', `the issuer's register knows no holder of certificate ${result.certificate.serial}`));
      }
      let person: PersonIdentity;
      try {
        person = verifyCardInfo(Buffer.from(body.basic4, 'base64'), Buffer.from(body.basic4Signature, 'base64'), ctx.cardInfoKey, holder);
      } catch (e) {
        if (!(e instanceof CardInfoError)) throw e;
        return refuse(transaction, new MyPageError(e.code, e.detail));
      }
      const certificateKey = `${result.certificate.issuer}\n${result.certificate.serial}`;
      // One account per person: a renewed card of theirs (another certificate) is theirs too.
      const owner = ctx.store.accountOfCertificate(certificateKey) ?? (holder ? ctx.store.accountOfHolder(holder.person) : undefined);
      if (owner !== undefined && owner !== transaction.accountId) return refuse(transaction, new MyPageError('CARD_ALREADY_LINKED', 'the card holder is linked to another account'));
      ctx.store.saveCardLink(transaction.accountId, { ...person, certificateKey, holder: holder?.person ?? null, linkedAt: ctx.now().toISOString() });
      transaction.state = 'linked';
      transaction.challenge = undefined;
      return { linked: true, name: person.name };
    },
  );
}
