/**
 * The city portal's pages, worded after the Nobeoka / Sendai portal guides (seeds/004): マイページ,
 * 「ログイン/新規登録」, 利用規約 and 「同意する」, SMS and e-mail codes, the confirmation, then
 * 「マイナンバーカードを連携する」 → 「連携する」 → 連携が完了しました. Every value goes through `html`.
 */
import type { RegistryError } from '../shared/errors.js';
import { html, type SafeHtml } from '../shared/html.js';
import { csrfInput, errorBody, formAlert, portalPage, type FormState } from '../shared/forms.js';
import type { Account, Profile } from './store.js';

export const kPortalName = 'のべおかポータル（テスト）';

export type { FormState } from '../shared/forms.js';

export function page(title: string, body: SafeHtml): string {
  return portalPage(kPortalName, title, body);
}

export function renderHome(account: Account | undefined): string {
  return page(
    'マイページ',
    html`<p>オンライン申請の手続きや、マイナンバーカードを連携することで郵送される文書をデジタル郵便として受け取ることができます。</p>
${account ? html`<p><a href="/mypage">マイページ</a></p>` : html`<p><a href="/login" data-testid="login-or-register">ログイン/新規登録</a></p>`}`,
  );
}

export function renderLogin(form: FormState): string {
  return page(
    'ログイン/新規登録',
    html`${formAlert(form)}
<p><a href="/register/terms" data-testid="register">新規登録（アカウントを作成する）</a></p>
<h2>メールアドレスでログイン</h2>
<form method="post" action="/login">${csrfInput(form.csrfToken)}
<label>メールアドレス <input type="email" name="email" autocomplete="username" required></label>
<label>パスワード <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">ログイン</button>
</form>`,
  );
}

export function renderTerms(form: FormState): string {
  return page(
    '利用規約',
    html`${formAlert(form)}
<section data-testid="terms">
<p>第1条（目的）この規約は、${kPortalName}（以下「本サービス」）の利用について定めるものです。</p>
<p>第2条（アカウント）利用者は、携帯電話番号とメールアドレスを確認のうえアカウントを作成します。</p>
<p>第3条（マイナンバーカード連携）マイナンバーカードを連携すると、氏名・住所・生年月日・性別がプロフィールに登録されます。</p>
</section>
<form method="post" action="/register/terms">${csrfInput(form.csrfToken)}
<button type="submit">同意する</button>
</form>`,
  );
}

export function renderPhone(form: FormState, phone = ''): string {
  return page(
    '電話番号の登録',
    html`${formAlert(form)}
<p>SMSを受け取れる携帯電話番号を入力してください。6桁の認証コードを送信します。</p>
<form method="post" action="/register/phone">${csrfInput(form.csrfToken)}
<label>携帯電話番号 <input type="tel" name="phone" value="${phone}" inputmode="numeric" autocomplete="tel" required></label>
<button type="submit">認証コードを送信する</button>
</form>`,
  );
}

function codeForm(action: string, resend: string, to: string, channel: string, form: FormState): SafeHtml {
  return html`${formAlert(form)}
<p data-testid="sent-to">${to} に${channel}で6桁の認証コードを送信しました。認証コードの有効期限は10分です。</p>
<form method="post" action="${action}">${csrfInput(form.csrfToken)}
<label>認証コード <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required></label>
<button type="submit">次へ</button>
</form>
<form method="post" action="${resend}">${csrfInput(form.csrfToken)}
<button type="submit">認証コードを再送する</button>
</form>`;
}

export function renderPhoneCode(form: FormState, phone: string): string {
  return page('SMS認証', codeForm('/register/phone/code', '/register/phone/resend', phone, 'SMS', form));
}

export function renderEmail(form: FormState, values: { email?: string | undefined; nickname?: string | undefined } = {}): string {
  return page(
    'メールアドレスの登録',
    html`${formAlert(form)}
<form method="post" action="/register/email">${csrfInput(form.csrfToken)}
<label>メールアドレス <input type="email" name="email" value="${values.email ?? ''}" autocomplete="email" required></label>
<label>パスワード（英字と数字を含む8文字以上） <input type="password" name="password" autocomplete="new-password" required></label>
<label>ニックネーム <input type="text" name="nickname" value="${values.nickname ?? ''}" maxlength="20" required></label>
<button type="submit">認証コードを送信する</button>
</form>`,
  );
}

export function renderEmailCode(form: FormState, email: string): string {
  return page('メール認証', codeForm('/register/email/code', '/register/email/resend', email, 'メール', form));
}

export function renderConfirm(form: FormState, values: { phone: string; email: string; nickname: string }): string {
  return page(
    '登録内容の確認',
    html`${formAlert(form)}
<dl>
<dt>携帯電話番号</dt><dd data-testid="confirm-phone">${values.phone}</dd>
<dt>メールアドレス</dt><dd data-testid="confirm-email">${values.email}</dd>
<dt>ニックネーム</dt><dd data-testid="confirm-nickname">${values.nickname}</dd>
</dl>
<form method="post" action="/register/confirm">${csrfInput(form.csrfToken)}
<button type="submit">登録する</button>
</form>`,
  );
}

const kGender: Record<string, string> = { male: '男性', female: '女性' };

function profileList(profile: Profile): SafeHtml {
  return html`<dl data-testid="profile">
<dt>氏名</dt><dd data-testid="profile-name">${profile.name}</dd>
<dt>住所</dt><dd data-testid="profile-address">${profile.address}</dd>
<dt>生年月日</dt><dd data-testid="profile-birthdate">${profile.birthdate}</dd>
<dt>性別</dt><dd data-testid="profile-gender">${kGender[profile.gender] ?? profile.gender}</dd>
</dl>`;
}

export function renderMyPage(form: FormState, account: Account, profile: Profile | undefined, flash: string | undefined): string {
  return page(
    'マイページ',
    html`${flash && html`<section data-testid="flash"><h2>${flash}</h2>
<p>デジタル郵便受け（POST）をご利用になる場合は、マイナンバーカード連携が必要です。</p></section>`}
${formAlert(form)}
<p data-testid="nickname">${account.nickname} さん</p>
${
  profile
    ? html`<p data-testid="link-status">マイナンバーカード: 連携済み</p>${profileList(profile)}`
    : html`<p data-testid="link-status">マイナンバーカード: 未連携</p>
<p>マイナンバーカード連携をするとできること: あなたへのお知らせが届くデジタル郵便受け「POST」を利用できるようになります。また、情報を自動で入力できるため連携サービスが便利にお使いいただけます。</p>
<p><a href="/link" data-testid="link-card">マイナンバーカードを連携する</a></p>`
}
<form method="post" action="/logout">${csrfInput(form.csrfToken)}<button type="submit">ログアウト</button></form>`,
  );
}

export function renderLinkStart(form: FormState): string {
  return page(
    'マイナンバーカード連携',
    html`${formAlert(form)}
<p>マイナンバーカード連携をする場合、スマートフォンの認証アプリ（デジタル認証アプリ）が必要になります。</p>
<p>「連携する」を押すと認証画面に移動します。表示される二次元コードをアプリで読み取るか、このスマートフォンでお使いの方は「アプリを開く」をタップしてください。</p>
<form method="post" action="/link/start">${csrfInput(form.csrfToken)}
<button type="submit">連携する</button>
</form>`,
  );
}

export function renderLinked(profile: Profile, created: boolean): string {
  return page(
    '連携が完了しました',
    html`<p data-testid="linked">${created ? 'マイナンバーカードの情報からプロフィールを作成しました。' : 'プロフィールをマイナンバーカードの情報で更新しました。'}</p>
${profileList(profile)}
<p><a href="/mypage">マイページへ</a></p>`,
  );
}

/** The error page; `detail` only in test mode. */
export function renderError(error: RegistryError, detail: string | undefined): string {
  return page('エラー', errorBody(error.code, error.userMessage, detail));
}
