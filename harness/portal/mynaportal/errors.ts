/**
 * The portal's error registry: every refusal the portal can give has one stable code here, with
 * the HTTP status it travels with and the Japanese sentence shown to people. Pages, the login
 * script, the agents and the runner all match on the code, never on the text, so the text can be
 * reworded without breaking a scenario. docs/portal-errors.md lists the same codes (a test keeps
 * the two in step).
 */
import type { FastifyReply } from 'fastify';
import { isRegistryCode, registryErrorClass, type ErrorEntry } from '../shared/errors.js';

export const kPortalErrors = {
  BAD_REQUEST: { status: 400, message: 'リクエストの内容に誤りがあります。' },
  NOT_FOUND: { status: 404, message: 'お探しのページは見つかりませんでした。' },
  CSRF_INVALID: { status: 403, message: '画面の有効期限が切れたか、不正な操作が行われました。もう一度最初から操作してください。' },
  NOT_LOGGED_IN: { status: 401, message: 'ログインしていません。ログインしてからご利用ください。' },
  PAYLOAD_TOO_LARGE: { status: 413, message: '送信された内容が大きすぎます。' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: '送信された内容の形式には対応していません。' },
  RATE_LIMITED: { status: 429, message: 'ログインの試行回数が多すぎます。しばらく時間をおいてから、もう一度お試しください。' },
  TOO_MANY_STREAMS: { status: 429, message: '同時に開いている画面が多すぎます。使っていない画面を閉じてから、もう一度お試しください。' },
  TOO_MANY_QR_SESSIONS: { status: 429, message: '2次元バーコードの表示が多すぎます。しばらく時間をおいてから、もう一度お試しください。' },
  SERVER_BUSY: { status: 503, message: 'ただいま混み合っています。しばらく時間をおいてから、もう一度お試しください。' },
  NONCE_UNKNOWN: { status: 400, message: 'ログイン要求が見つかりません。もう一度ログインしてください。' },
  NONCE_EXPIRED: { status: 410, message: 'ログイン要求の有効期限が切れました。もう一度ログインしてください。' },
  NONCE_USED: { status: 409, message: 'このログイン要求は既に使用されています。もう一度ログインしてください。' },
  UNSUPPORTED_CERTIFICATE: {
    status: 401,
    message: 'この電子証明書はご利用いただけません。マイナンバーカードの利用者証明用電子証明書でログインしてください。',
  },
  CERTIFICATE_EXPIRED: {
    status: 401,
    message: '利用者証明用電子証明書の有効期限が切れています。お住まいの市区町村窓口で電子証明書の更新手続きを行ってください。',
  },
  SIGNATURE_MISMATCH: { status: 401, message: '電子署名を検証できませんでした。もう一度ログインしてください。' },
  CERTIFICATE_REVOKED: {
    status: 401,
    message: '利用者証明用電子証明書が失効しています。お住まいの市区町村窓口にお問い合わせください。',
  },
  REVOCATION_UNAVAILABLE: {
    status: 503,
    message: '電子証明書の失効情報を確認できませんでした。しばらく時間をおいてから、もう一度お試しください。',
  },
  CARD_INFO_INVALID: { status: 400, message: 'マイナンバーカードの券面事項を確認できませんでした。もう一度ログインしてください。' },
  CARD_INFO_MISMATCH: {
    status: 403,
    message: '券面事項が、ログインに使われたマイナンバーカードのものではありません。ご自身のカードでもう一度ログインしてください。',
  },
  HOLDER_UNKNOWN: {
    status: 401,
    message: 'この利用者証明用電子証明書の所有者を確認できませんでした。お住まいの市区町村窓口にお問い合わせください。',
  },
  HOLDER_UNAVAILABLE: {
    status: 503,
    message: '電子証明書の所有者情報を確認できませんでした。しばらく時間をおいてから、もう一度お試しください。',
  },
  LOGIN_PENDING_EXPIRED: { status: 410, message: 'ログインの有効期限が切れました。もう一度ログインしてください。' },
  QR_UNKNOWN: { status: 404, message: '2次元バーコードが見つかりません。パソコンに表示された2次元バーコードを読み取ってください。' },
  QR_EXPIRED: { status: 410, message: '2次元バーコードの有効期限が切れました。パソコンで2次元バーコードを表示し直してください。' },
  QR_ALREADY_USED: { status: 409, message: 'この2次元バーコードは既に使用されています。パソコンで2次元バーコードを表示し直してください。' },
  QR_SESSION_MISMATCH: { status: 403, message: 'この2次元バーコードは別のブラウザで表示されたものです。' },
  APPLICATION_NOT_FOUND: { status: 404, message: '申請が見つかりません。最初から申請をやり直してください。' },
  APPLICATION_NOT_SIGNED: { status: 409, message: '電子署名が済んでいません。「電子署名を行う」から電子署名を行ってください。' },
  APPLICATION_ALREADY_SUBMITTED: { status: 409, message: 'この申請は既に送信されています。' },
  SIGN_SESSION_UNKNOWN: { status: 404, message: '署名の依頼が見つかりません。申請画面で「電子署名を行う」を押し直してください。' },
  SIGN_SESSION_EXPIRED: { status: 410, message: '署名の依頼の有効期限が切れました。申請画面で「電子署名を行う」を押し直してください。' },
  SIGN_SESSION_USED: { status: 409, message: 'この署名の依頼は既に使用されています。申請画面で「電子署名を行う」を押し直してください。' },
  SIGN_SESSION_MISMATCH: { status: 403, message: 'この署名の依頼は別のブラウザで表示されたものです。' },
  CMS_INVALID: { status: 400, message: '電子署名の形式に誤りがあります。もう一度電子署名を行ってください。' },
  DOCUMENT_MISMATCH: {
    status: 401,
    message: '申請内容と電子署名が一致しません。署名の後に申請内容が変更された可能性があります。電子署名を検証できませんでした。',
  },
  SIGN_CERTIFICATE_UNSUPPORTED: {
    status: 401,
    message: 'この電子証明書はご利用いただけません。マイナンバーカードの署名用電子証明書で電子署名を行ってください。',
  },
  SIGN_CERTIFICATE_EXPIRED: {
    status: 401,
    message: '署名用電子証明書の有効期限が切れています。お住まいの市区町村窓口で電子証明書の更新手続きを行ってください。',
  },
  SIGN_CERTIFICATE_REVOKED: {
    status: 401,
    message:
      '署名用電子証明書が失効しています。住所・氏名などが変わる（転居・婚姻など）と署名用電子証明書は失効します。お住まいの市区町村窓口で署名用電子証明書の発行を受けてください。',
  },
  SIGN_SIGNATURE_MISMATCH: { status: 401, message: '電子署名を検証できませんでした。もう一度電子署名を行ってください。' },
  APPLICANT_MISMATCH: {
    status: 403,
    message: '電子署名を行った方が申請者ご本人ではありません。申請者ご本人のマイナンバーカードで電子署名を行ってください。',
  },
  SUBMISSION_NOT_FOUND: { status: 404, message: '申請の送信記録が見つかりません。' },
  INTERNAL_ERROR: { status: 500, message: 'システムエラーが発生しました。しばらく時間をおいてから、もう一度お試しください。' },
} as const satisfies Record<string, ErrorEntry>;

export type PortalErrorCode = keyof typeof kPortalErrors;

export const kPortalErrorCodes = Object.keys(kPortalErrors) as PortalErrorCode[];

export function isPortalErrorCode(code: string): code is PortalErrorCode {
  return isRegistryCode(kPortalErrors, code);
}

/** Thrown anywhere in a request; the app's one error handler turns it into the answer. */
export class PortalError extends registryErrorClass('PortalError', kPortalErrors) {}

/** Sends `{ code, message }` with the registry's status, for handlers that answer rather than throw. */
export function sendPortalError(reply: FastifyReply, code: PortalErrorCode, detail?: string, withDetail = false): FastifyReply {
  const error = new PortalError(code, detail);
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.body(withDetail));
}
