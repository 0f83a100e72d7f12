/**
 * A minimal but strict stand-in for the portal's QR login API (docs/portal-protocols.md, "QR
 * login"), for testing the simulated phone on its own: the four endpoints, bodies checked against
 * their exact shape, single-use and expiring sessions, and the signature and card-info checks a
 * relying party makes, done with node:crypto. The real portal lives in harness/portal.
 */
import { createHash, randomBytes, verify, X509Certificate, type KeyObject } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { equalBytes, fromBase64, toBase64 } from '../../../iso7816/bytes.js';
import { readTlv, readTlvList } from '../../../iso7816/tlv.js';
import { parseKenhojoBasic4, type KenhojoBasic4 } from '../../../common/card-info-format.js';

type State = 'waiting' | 'challenged' | 'card-info' | 'done' | 'failed';

export interface FakeQrSession {
  readonly id: string;
  readonly token: string;
  expiresAt: number;
  state: State;
  /** Ask for the card info after complete, as for a certificate linked to no account. */
  needsCardInfo: boolean;
  nonce?: Uint8Array;
  /** The certificate that completed the login. */
  certificate?: X509Certificate;
  /** What the link step identified the person as. */
  linked?: KenhojoBasic4;
  /** Codes the phone reported to /fail. */
  readonly failures: string[];
}

const kMessages: Record<string, [number, string]> = {
  BAD_REQUEST: [400, 'リクエストの内容に誤りがあります。'],
  QR_UNKNOWN: [404, '2次元バーコードが見つかりません。'],
  QR_EXPIRED: [410, '2次元バーコードの有効期限が切れました。'],
  QR_ALREADY_USED: [409, 'この2次元バーコードは既に使用されています。'],
  UNSUPPORTED_CERTIFICATE: [401, 'この電子証明書はご利用いただけません。'],
  SIGNATURE_MISMATCH: [401, '電子署名を検証できませんでした。'],
  CARD_INFO_INVALID: [400, 'マイナンバーカードの券面事項を確認できませんでした。'],
};

/** The codes a phone may report. */
const kFailCodes = ['NO_READER', 'NO_CARD', 'CARD_REMOVED', 'WRONG_PIN', 'PIN_BLOCKED', 'CANCELLED', 'CARD_ERROR'];

class Refusal extends Error {
  constructor(readonly code: keyof typeof kMessages) {
    super(code);
  }
}

const stringField = { type: 'string', minLength: 1 } as const;
function bodySchema(...fields: string[]) {
  return {
    body: {
      type: 'object',
      required: fields,
      additionalProperties: false,
      properties: Object.fromEntries(fields.map((f) => [f, stringField])),
    },
  };
}

export class FakeQrPortal {
  readonly sessions = new Map<string, FakeQrSession>();
  /** Every request, as "<path>" in arrival order. */
  readonly calls: string[] = [];
  /** Runs while /challenge is answered: where a test takes the card away. */
  onChallenge?: () => void;
  private readonly _app: FastifyInstance;
  private _base = '';

  constructor(
    private readonly _authCa: X509Certificate,
    private readonly _cardInfoKey: KeyObject,
  ) {
    // Strict bodies: refuse unknown fields and wrong types rather than strip or coerce them.
    this._app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
    this._app.addHook('onRequest', (req, _reply, done) => {
      this.calls.push(req.url);
      done();
    });
    this._app.setErrorHandler((error, _req, reply) => {
      if (error instanceof Refusal) return send(reply, error.code);
      return send(reply, 'BAD_REQUEST');
    });
    this._app.post('/api/qr/login/challenge', { schema: bodySchema('s', 't') }, (req) => {
      const session = this._session(req.body as { s: string; t: string });
      this.onChallenge?.();
      if (session.state !== 'waiting') throw new Refusal('QR_ALREADY_USED');
      session.state = 'challenged';
      session.nonce = randomBytes(32);
      return { nonce: toBase64(session.nonce), expiresAt: new Date(session.expiresAt).toISOString() };
    });
    this._app.post('/api/qr/login/complete', { schema: bodySchema('s', 't', 'nonce', 'signature', 'certificate') }, (req) => {
      const body = req.body as Record<'s' | 't' | 'nonce' | 'signature' | 'certificate', string>;
      const session = this._session(body);
      if (session.state !== 'challenged' || !session.nonce) throw new Refusal('QR_ALREADY_USED');
      if (!equalBytes(fromBase64(body.nonce), session.nonce)) throw new Refusal('BAD_REQUEST');
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(fromBase64(body.certificate));
      } catch {
        throw new Refusal('UNSUPPORTED_CERTIFICATE');
      }
      if (!certificate.checkIssued(this._authCa) || !certificate.verify(this._authCa.publicKey)) throw new Refusal('UNSUPPORTED_CERTIFICATE');
      if (!verify('sha256', session.nonce, certificate.publicKey, fromBase64(body.signature))) throw new Refusal('SIGNATURE_MISMATCH');
      session.certificate = certificate;
      session.state = session.needsCardInfo ? 'card-info' : 'done';
      return { next: session.needsCardInfo ? 'card-info' : '/menu' };
    });
    this._app.post('/api/qr/login/link', { schema: bodySchema('s', 't', 'basic4', 'basic4Signature') }, (req) => {
      const body = req.body as Record<'s' | 't' | 'basic4' | 'basic4Signature', string>;
      const session = this._session(body);
      if (session.state !== 'card-info') throw new Refusal('QR_ALREADY_USED');
      session.linked = this._checkCardInfo(fromBase64(body.basic4), fromBase64(body.basic4Signature));
      session.state = 'done';
      return { next: '/account/new' };
    });
    this._app.post('/api/qr/login/fail', { schema: bodySchema('s', 't', 'code') }, (req, reply) => {
      const body = req.body as Record<'s' | 't' | 'code', string>;
      const session = this._session(body, { evenIfExpired: true });
      if (!kFailCodes.includes(body.code)) throw new Refusal('BAD_REQUEST');
      session.failures.push(body.code);
      session.state = 'failed';
      return reply.code(204).send();
    });
  }

  async listen(): Promise<void> {
    this._base = await this._app.listen({ host: '127.0.0.1', port: 0 });
  }

  close(): Promise<void> {
    return this._app.close();
  }

  /** A new QR session and the payload its QR code would carry. */
  createSession(options: { needsCardInfo?: boolean; expiresInMs?: number } = {}): { session: FakeQrSession; payload: string } {
    const session: FakeQrSession = {
      id: randomBytes(8).toString('hex'),
      token: randomBytes(32).toString('base64url'),
      expiresAt: Date.now() + (options.expiresInMs ?? 5 * 60_000),
      state: 'waiting',
      needsCardInfo: options.needsCardInfo ?? false,
      failures: [],
    };
    this.sessions.set(session.id, session);
    return { session, payload: `${this._base}/m/qr-login?s=${session.id}&t=${session.token}` };
  }

  private _session(body: { s: string; t: string }, options: { evenIfExpired?: boolean } = {}): FakeQrSession {
    const session = this.sessions.get(body.s);
    if (!session || session.token !== body.t) throw new Refusal('QR_UNKNOWN');
    if (!options.evenIfExpired && Date.now() > session.expiresAt) throw new Refusal('QR_EXPIRED');
    return session;
  }

  /** DF32 of EF 0003 must be the hash of the basic-4 span, and DF33 the card-info key's signature over DF31 ‖ DF32. */
  private _checkCardInfo(basic4: Uint8Array, ef0003: Uint8Array): KenhojoBasic4 {
    try {
      const content = readTlv(basic4).value;
      const [offsets] = readTlvList(content);
      const span = content.subarray(offsets!.size);
      const outer = readTlv(ef0003).value;
      const [df31, df32, df33] = readTlvList(outer);
      if (df32?.tag !== 0xdf32 || df33?.tag !== 0xdf33) throw new Error('EF 0003 is not DF31 DF32 DF33');
      if (!equalBytes(df32.value, createHash('sha256').update(span).digest())) throw new Error('DF32 is not the hash of the basic 4');
      if (!verify('sha256', outer.subarray(0, df31!.size + df32.size), this._cardInfoKey, df33.value)) throw new Error('EF 0003 signature');
      return parseKenhojoBasic4(basic4);
    } catch {
      throw new Refusal('CARD_INFO_INVALID');
    }
  }
}

function send(reply: FastifyReply, code: keyof typeof kMessages): FastifyReply {
  const [status, message] = kMessages[code]!;
  return reply.code(status).send({ code, message });
}
