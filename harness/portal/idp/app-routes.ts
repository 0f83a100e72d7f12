/**
 * The phone app's API: the Digital Auth App-like app read the transaction from the QR code or the
 * deep link (`tx`, `t`), and proves the person with the card: challenge → the card signs it with the
 * authentication key (the 4-digit PIN stays on the phone) → complete. Whose card it is, the issuer's
 * certificate-to-person register says (the `sub` follows its person id, so a renewed card keeps it);
 * a person the IdP has not met gives the card info once for the claims (the basic 4, checked
 * against the card-info key and against the issuer's digest of that very card). The transaction
 * token is the phone's credential; no cookies here.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CardInfoError, verifyCardInfo } from '../shared/card-info.js';
import { HolderDirectoryError, type CertificateHolder } from '../shared/holders.js';
import { VerificationInputError } from '../verification/errors.js';
import { IdpError } from './errors.js';
import type { IdpContext } from './context.js';
import { hashToken, type Transaction } from './store.js';

const kBase64 = '^[A-Za-z0-9+/]+={0,2}$';
const kTransactionFields = {
  tx: { type: 'string', minLength: 1, maxLength: 64 },
  t: { type: 'string', minLength: 1, maxLength: 128 },
} as const;

function bodySchema(extra: Record<string, unknown>, required: string[]): object {
  return { body: { type: 'object', additionalProperties: false, required: ['tx', 't', ...required], properties: { ...kTransactionFields, ...extra } } };
}

function fromBase64(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

export async function appRoutes(app: FastifyInstance, { ctx }: { ctx: IdpContext }): Promise<void> {
  /** The transaction the phone names, if its token matches and it is still open. */
  const open = (body: { tx: string; t: string }): Transaction => {
    const transaction = ctx.store.transactions.get(body.tx);
    const presented = Buffer.from(hashToken(body.t));
    if (!transaction || !timingSafeEqual(presented, Buffer.from(transaction.tokenHash))) throw new IdpError('TRANSACTION_UNKNOWN', 'no transaction with this id and token');
    if (transaction.expiresAt <= ctx.now().getTime()) throw new IdpError('TRANSACTION_EXPIRED', 'the transaction expired');
    if (transaction.state === 'authenticated') throw new IdpError('TRANSACTION_USED', 'the transaction is already authenticated');
    if (transaction.state === 'failed') throw new IdpError('TRANSACTION_USED', 'the transaction failed; start again');
    return transaction;
  };

  /** The certificate's holder at the issuer's register; a refusal fails the transaction, so the PC page can say why. */
  const holderOrRefuse = async (transaction: Transaction, issuer: string, serial: string): Promise<CertificateHolder> => {
    let holder: CertificateHolder | undefined;
    try {
      holder = await ctx.holders.holderOf(issuer, serial);
    } catch (e) {
      if (!(e instanceof HolderDirectoryError)) throw e;
      transaction.state = 'failed';
      transaction.failure = '電子証明書の所有者情報を確認できませんでした。';
      throw new IdpError('HOLDER_UNAVAILABLE', e.message);
    }
    if (!holder) {
      transaction.state = 'failed';
      transaction.failure = 'この利用者証明用電子証明書の所有者を確認できませんでした。';
      throw new IdpError('HOLDER_UNKNOWN', `the issuer's register knows no holder of certificate ${serial}`);
    }
    return holder;
  };

  app.post('/api/app/challenge', { schema: bodySchema({}, []) }, async (request) => {
    const transaction = open(request.body as { tx: string; t: string });
    if (transaction.state !== 'waiting') throw new IdpError('TRANSACTION_USED', 'the challenge was already given out');
    transaction.challenge = randomBytes(32);
    transaction.state = 'challenged';
    const client = ctx.clients.find((c) => c.clientId === transaction.request.clientId)!;
    return { challenge: transaction.challenge.toString('base64'), client: client.name, scopes: transaction.request.scopes };
  });

  app.post(
    '/api/app/complete',
    { schema: bodySchema({ signature: { type: 'string', pattern: kBase64, maxLength: 1024 }, certificate: { type: 'string', pattern: kBase64, maxLength: 8192 } }, ['signature', 'certificate']) },
    async (request) => {
      const body = request.body as { tx: string; t: string; signature: string; certificate: string };
      const transaction = open(body);
      if (transaction.state !== 'challenged' || !transaction.challenge) throw new IdpError('TRANSACTION_STATE', 'ask for the challenge first');
      const challenge = transaction.challenge;
      // One signature per challenge, right or wrong.
      transaction.challenge = undefined;
      const result = await ctx.verifier
        .verifySignature({ certificate: fromBase64(body.certificate), signature: fromBase64(body.signature), data: challenge, kind: 'auth' }, { at: ctx.now() })
        .catch((e: unknown) => {
          // Bytes that are no certificate at all: the phone's request is wrong, not the IdP.
          throw e instanceof VerificationInputError ? new IdpError('CERTIFICATE_INVALID', e.message) : e;
        });
      if (result.code !== 'OK' || !result.certificate) {
        transaction.state = 'failed';
        transaction.failure = `マイナンバーカードによる認証に失敗しました（${result.code}）。`;
        throw new IdpError('SIGNATURE_INVALID', `${result.code}: ${result.detail}`);
      }
      const certificateKey = `${result.certificate.issuer}\n${result.certificate.serial}`;
      const sub = ctx.store.subjectOfCertificate(certificateKey);
      if (sub) {
        transaction.sub = sub;
        transaction.state = 'authenticated';
        return { next: 'done' };
      }
      if (!ctx.flaws.has('trust-client-card-info')) {
        // Whose card it is, the issuer says; the card info only supplies the claims, and must be this card's.
        const holder = await holderOrRefuse(transaction, result.certificate.issuer, result.certificate.serial);
        const holderSub = ctx.store.subjectOfHolder(holder.person);
        if (ctx.store.person(holderSub)) {
          // A renewed card of a person met before: the same sub, the claims already verified.
          ctx.store.linkRenewedCertificate(certificateKey, holderSub);
          transaction.sub = holderSub;
          transaction.state = 'authenticated';
          return { next: 'done' };
        }
        transaction.holder = holder;
      }
      transaction.certificateKey = certificateKey;
      transaction.state = 'card-info';
      return { next: 'card-info' };
    },
  );

  app.post(
    '/api/app/card-info',
    { schema: bodySchema({ basic4: { type: 'string', pattern: kBase64, maxLength: 2048 }, basic4Signature: { type: 'string', pattern: kBase64, maxLength: 2048 } }, ['basic4', 'basic4Signature']) },
    async (request) => {
      const body = request.body as { tx: string; t: string; basic4: string; basic4Signature: string };
      const transaction = open(body);
      const certificateKey = transaction.certificateKey;
      if (transaction.state !== 'card-info' || !certificateKey) throw new IdpError('TRANSACTION_STATE', 'the card info is asked for only after the card authenticated');
      const holder = transaction.holder;
      if (!holder && !ctx.flaws.has('trust-client-card-info')) throw new IdpError('TRANSACTION_STATE', 'the issuer was not asked about this certificate');
      let person;
      try {
        person = verifyCardInfo(fromBase64(body.basic4), fromBase64(body.basic4Signature), ctx.cardInfoKey, holder);
      } catch (e) {
        if (!(e instanceof CardInfoError)) throw e;
        transaction.state = 'failed';
        const mismatch = e.code === 'CARD_INFO_MISMATCH';
        transaction.failure = mismatch ? '券面事項が、認証に使われたマイナンバーカードのものではありません。' : 'マイナンバーカードの券面事項を確認できませんでした。';
        throw new IdpError(e.code, e.detail);
      }
      transaction.sub = ctx.store.linkCertificate(certificateKey, person, holder ? ctx.store.subjectOfHolder(holder.person) : undefined);
      transaction.state = 'authenticated';
      return { next: 'done' };
    },
  );

  // The app gave up (wrong PIN, card lost, …): the PC page says so and the person starts again.
  app.post('/api/app/fail', { schema: bodySchema({ code: { type: 'string', pattern: '^[A-Z_]{1,32}$' } }, ['code']) }, async (request) => {
    const body = request.body as { tx: string; t: string; code: string };
    const transaction = open(body);
    transaction.failure = `スマートフォンでの認証が完了しませんでした（${body.code}）。`;
    return { ok: true };
  });
}
