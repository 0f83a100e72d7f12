/**
 * My Page's one error registry: stable codes for tests, the phone app and reports, Japanese
 * messages for people. Form refusals re-render the form with the message; the rest show the error
 * page, or JSON under /api/.
 */
import { registryErrorClass, type ErrorEntry } from '../shared/errors.js';

export const kMyPageErrors = {
  BAD_REQUEST: { status: 400, message: '入力内容を確認してください。' },
  CSRF_INVALID: { status: 403, message: '画面の有効期限が切れました。最初からやり直してください。' },
  NOT_FOUND: { status: 404, message: 'ページが見つかりません。' },
  LOGIN_REQUIRED: { status: 401, message: 'ログインしてください。' },
  STEP_OUT_OF_ORDER: { status: 409, message: 'アカウント作成の手順を最初からやり直してください。' },
  ACCOUNT_TYPE_UNSUPPORTED: { status: 400, message: 'このテスト環境ではメールアドレスのアカウントのみ作成できます。' },
  EMAIL_INVALID: { status: 400, message: 'メールアドレスを正しく入力してください。' },
  EMAIL_TAKEN: { status: 409, message: 'このメールアドレスはすでに登録されています。' },
  PASSWORD_WEAK: { status: 400, message: 'パスワードは英字と数字を含む8文字以上で入力してください。' },
  NICKNAME_INVALID: { status: 400, message: 'ニックネームは1文字以上20文字以内で入力してください。' },
  CODE_WRONG: { status: 400, message: '確認コードが正しくありません。' },
  CODE_EXHAUSTED: { status: 429, message: '確認コードの入力回数の上限に達しました。確認コードを再送してください。' },
  CODE_EXPIRED: { status: 410, message: '確認コードの有効期限が切れました。確認コードを再送してください。' },
  CODE_RESEND_TOO_SOON: { status: 429, message: '確認コードの再送は、しばらく時間をおいてから行ってください。' },
  CODE_SEND_LIMIT: { status: 429, message: '確認コードの送信回数の上限に達しました。1時間ほど時間をおいてから、もう一度お試しください。' },
  CODE_LOCKED: { status: 429, message: '確認コードの入力に続けて誤りがあったため、このメールアドレスでの確認はしばらくご利用いただけません。' },
  LOGIN_FAILED: { status: 401, message: 'メールアドレスまたはパスワードが正しくありません。' },
  LOGIN_LOCKED: { status: 429, message: 'ログインの失敗が続いたため、しばらくログインできません。時間をおいてから、もう一度お試しください。' },
  LINK_REQUIRED: { status: 409, message: 'デジタル郵便受け（POST）をご利用になる場合は、マイナンバーカード連携が必要です。' },
  AGREEMENT_REQUIRED: { status: 400, message: '利用規約に同意してください。' },
  TRANSACTION_UNKNOWN: { status: 404, message: '連携の二次元コードが無効です。SENDAIポータルで「連携する」からやり直してください。' },
  TRANSACTION_EXPIRED: { status: 410, message: '連携の二次元コードの有効期限が切れました。SENDAIポータルで「連携する」からやり直してください。' },
  TRANSACTION_USED: { status: 409, message: 'この二次元コードはすでに使われています。SENDAIポータルで「連携する」からやり直してください。' },
  TOO_MANY_TRANSACTIONS: { status: 429, message: '連携の二次元コードの表示が多すぎます。しばらくしてからお試しください。' },
  SERVER_BUSY: { status: 503, message: 'ただいま混み合っています。しばらくしてからお試しください。' },
  TRANSACTION_STATE: { status: 409, message: '連携の手順が正しくありません。アプリでもう一度読み取ってください。' },
  CERTIFICATE_INVALID: { status: 400, message: '電子証明書を読み取れませんでした。' },
  SIGNATURE_MISMATCH: { status: 400, message: 'マイナンバーカードによる認証に失敗しました（署名を確認できません）。' },
  UNSUPPORTED_CERTIFICATE: { status: 400, message: 'マイナンバーカードの利用者証明用電子証明書を確認できません。' },
  CERTIFICATE_EXPIRED: { status: 400, message: 'マイナンバーカードの利用者証明用電子証明書の有効期限が切れています。市区町村の窓口で更新してください。' },
  CERTIFICATE_REVOKED: { status: 400, message: 'マイナンバーカードの利用者証明用電子証明書が失効しています。' },
  RATE_LIMITED: { status: 429, message: '連携の試行回数が多すぎます。しばらくしてからお試しください。' },
  CARD_INFO_INVALID: { status: 400, message: 'マイナンバーカードの券面事項を確認できませんでした。' },
  CARD_INFO_MISMATCH: { status: 403, message: '券面事項が、認証に使われたマイナンバーカードのものではありません。ご自身のカードで連携してください。' },
  HOLDER_UNKNOWN: { status: 400, message: 'この利用者証明用電子証明書の所有者を確認できませんでした。' },
  HOLDER_UNAVAILABLE: { status: 503, message: '電子証明書の所有者情報を確認できませんでした。しばらくしてからお試しください。' },
  CARD_ALREADY_LINKED: { status: 409, message: 'このマイナンバーカードはすでに別のアカウントに連携されています。連携済みのアカウントでログインしてください。' },
  INTERNAL_ERROR: { status: 500, message: 'エラーが発生しました。しばらくしてからお試しください。' },
} as const satisfies Record<string, ErrorEntry>;

export type MyPageErrorCode = keyof typeof kMyPageErrors;

export class MyPageError extends registryErrorClass('MyPageError', kMyPageErrors) {}
