/**
 * The identity provider's one error registry. The OAuth 2.0 / OpenID Connect codes (RFC 6749 §4.1.2.1
 * and §5.2, RFC 6750 §3.1) keep their standard spelling because clients switch on them; the codes of
 * the phone app's API are the IdP's own, upper case like the portal's.
 */
import { registryErrorClass, type ErrorEntry } from '../shared/errors.js';

export const kIdpErrors = {
  // OAuth 2.0 / OIDC
  invalid_request: { status: 400, message: 'リクエストが正しくありません。' },
  invalid_client: { status: 401, message: 'クライアントを認証できませんでした。' },
  invalid_grant: { status: 400, message: '認可コードが無効です。' },
  unauthorized_client: { status: 400, message: 'このクライアントには許可されていない要求です。' },
  unsupported_grant_type: { status: 400, message: 'この grant_type には対応していません。' },
  unsupported_response_type: { status: 400, message: 'この response_type には対応していません。' },
  invalid_scope: { status: 400, message: 'スコープが正しくありません。' },
  access_denied: { status: 400, message: '認証が中止されました。' },
  invalid_token: { status: 401, message: 'アクセストークンが無効です。' },
  server_error: { status: 500, message: 'サーバーでエラーが発生しました。' },
  temporarily_unavailable: { status: 503, message: 'ただいま混み合っています。しばらくしてからお試しください。' },
  // The phone app's API (/api/app/*)
  TRANSACTION_UNKNOWN: { status: 404, message: 'この認証要求は見つかりません。もう一度最初からやり直してください。' },
  TRANSACTION_EXPIRED: { status: 410, message: '認証要求の有効期限が切れました。もう一度最初からやり直してください。' },
  TRANSACTION_USED: { status: 409, message: 'この認証要求はすでに使われています。' },
  TRANSACTION_STATE: { status: 409, message: 'この手順は今は行えません。' },
  SIGNATURE_INVALID: { status: 400, message: 'マイナンバーカードによる認証に失敗しました。' },
  CERTIFICATE_INVALID: { status: 400, message: '電子証明書を読み取れませんでした。' },
  CARD_INFO_INVALID: { status: 400, message: 'マイナンバーカードの券面事項を確認できませんでした。' },
  CARD_INFO_MISMATCH: { status: 403, message: '券面事項が、認証に使われたマイナンバーカードのものではありません。' },
  HOLDER_UNKNOWN: { status: 401, message: 'この利用者証明用電子証明書の所有者を確認できませんでした。' },
  HOLDER_UNAVAILABLE: { status: 503, message: '電子証明書の所有者情報を確認できませんでした。しばらくしてからお試しください。' },
  RATE_LIMITED: { status: 429, message: '認証の試行回数が多すぎます。しばらくしてからお試しください。' },
  NOT_FOUND: { status: 404, message: 'ページが見つかりません。' },
} as const satisfies Record<string, ErrorEntry>;

export type IdpErrorCode = keyof typeof kIdpErrors;

export class IdpError extends registryErrorClass('IdpError', kIdpErrors) {
  /** For people and reports: what exactly was wrong (OAuth's error_description). */
  declare readonly detail: string;

  constructor(code: IdpErrorCode, detail: string) {
    super(code, detail);
  }

  /** The OAuth JSON body (RFC 6749 §5.2). */
  oauthBody(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.detail };
  }
}
