/**
 * The city portal's one error registry: stable codes for tests and reports, Japanese messages for
 * people. Form refusals re-render the form with the message; the rest show the error page.
 */
import { registryErrorClass, type ErrorEntry } from '../shared/errors.js';

export const kCitizenErrors = {
  BAD_REQUEST: { status: 400, message: '入力内容を確認してください。' },
  CSRF_INVALID: { status: 403, message: '画面の有効期限が切れました。最初からやり直してください。' },
  NOT_FOUND: { status: 404, message: 'ページが見つかりません。' },
  LOGIN_REQUIRED: { status: 401, message: 'ログインしてください。' },
  STEP_OUT_OF_ORDER: { status: 409, message: '登録の手順を最初からやり直してください。' },
  PHONE_INVALID: { status: 400, message: '携帯電話番号を正しく入力してください（例: 09012345678）。' },
  EMAIL_INVALID: { status: 400, message: 'メールアドレスを正しく入力してください。' },
  EMAIL_TAKEN: { status: 409, message: 'このメールアドレスはすでに登録されています。' },
  PASSWORD_WEAK: { status: 400, message: 'パスワードは英字と数字を含む8文字以上で入力してください。' },
  NICKNAME_INVALID: { status: 400, message: 'ニックネームは1文字以上20文字以内で入力してください。' },
  CODE_WRONG: { status: 400, message: '認証コードが正しくありません。' },
  CODE_EXHAUSTED: { status: 429, message: '認証コードの入力回数の上限に達しました。認証コードを再送してください。' },
  CODE_EXPIRED: { status: 410, message: '認証コードの有効期限が切れました。認証コードを再送してください。' },
  CODE_RESEND_TOO_SOON: { status: 429, message: '認証コードの再送は、しばらく時間をおいてから行ってください。' },
  CODE_SEND_LIMIT: { status: 429, message: '認証コードの送信回数の上限に達しました。1時間ほど時間をおいてから、もう一度お試しください。' },
  CODE_LOCKED: { status: 429, message: '認証コードの入力に続けて誤りがあったため、この宛先への認証はしばらくご利用いただけません。' },
  LOGIN_FAILED: { status: 401, message: 'メールアドレスまたはパスワードが正しくありません。' },
  LOGIN_LOCKED: { status: 429, message: 'ログインの失敗が続いたため、しばらくログインできません。時間をおいてから、もう一度お試しください。' },
  LINK_STATE_INVALID: { status: 400, message: '連携の要求が無効です。もう一度「連携する」からやり直してください。' },
  LINK_FAILED: { status: 502, message: 'マイナンバーカードの連携ができませんでした。' },
  ID_TOKEN_INVALID: { status: 502, message: 'マイナンバーカードの連携ができませんでした（IDトークンを確認できません）。' },
  ALREADY_LINKED: { status: 409, message: 'このマイナンバーカードは別のアカウントに連携されています。' },
  INTERNAL_ERROR: { status: 500, message: 'エラーが発生しました。しばらくしてからお試しください。' },
} as const satisfies Record<string, ErrorEntry>;

export type CitizenErrorCode = keyof typeof kCitizenErrors;

export class CitizenError extends registryErrorClass('CitizenError', kCitizenErrors) {}
