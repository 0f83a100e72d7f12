/**
 * My Page's pages, worded after the Sendai portal guide (seeds/004): マイページとは？,
 * 「ログイン/新規登録」, 作成するアカウントを選択する, プロフィール情報を入力する, アカウント作成完了,
 * 「マイナンバーカードを連携する」 → 「連携する」 → 「アプリを開く」 / 「アプリを持っていない」 (クロスアイディアプリ),
 * 連携済み, デジタル郵便受け（POST） → 「デジタル郵便受けを設定する」 → 「同意する」 → 「設定する」 → 設定は完了です,
 * and オンライン申請. Every value goes through `html`.
 */
import type { RegistryError } from '../shared/errors.js';
import { html, type SafeHtml } from '../shared/html.js';
import { csrfInput, errorBody, formAlert, portalPage, type FormState } from '../shared/forms.js';
import { refreshEvery } from '../shared/page.js';
import type { OnlineApplication } from './catalogue.js';
import type { Account, CardLink } from './store.js';

export const kPortalName = 'SENDAIポータル（テスト）';
/** xID's own help page, which the guide points to for the app's steps. */
export const kXidHelpUrl = 'https://help.xid.inc/25790a22b17f49f88fdeed6d2b7aa015';

export type { FormState } from '../shared/forms.js';

export function page(title: string, body: SafeHtml, options: { refreshSeconds?: number } = {}): string {
  return portalPage(kPortalName, title, body, options.refreshSeconds ? refreshEvery(options.refreshSeconds) : undefined);
}

export function renderHome(account: Account | undefined): string {
  return page(
    'マイページとは？',
    html`<p>オンライン申請の手続きや、マイナンバーカードを連携することで郵送される文書をデジタル郵便として受け取ることができます。</p>
${account ? html`<p><a href="/mypage" data-testid="to-mypage">マイページ</a></p>` : html`<p><a href="/login" data-testid="login-or-register">ログイン/新規登録</a></p>`}`,
  );
}

export function renderLogin(form: FormState): string {
  return page(
    'ログイン/新規登録',
    html`${formAlert(form)}
<p><a href="/signup" data-testid="register">新規登録</a></p>
<h2>メールアドレスでログイン</h2>
<form method="post" action="/login">${csrfInput(form.csrfToken)}
<label>メールアドレス <input type="email" name="email" data-testid="login-email" autocomplete="username" required></label>
<label>パスワード <input type="password" name="password" data-testid="login-password" autocomplete="current-password" required></label>
<button type="submit" data-testid="login-submit">ログイン</button>
</form>`,
  );
}

export function renderAccountType(form: FormState): string {
  return page(
    '作成するアカウントを選択する',
    html`${formAlert(form)}
<form method="post" action="/signup">${csrfInput(form.csrfToken)}
<button type="submit" name="type" value="email" data-testid="account-type-email">メールアドレスで作成</button>
<button type="submit" name="type" value="line" data-testid="account-type-line">LINEで作成</button>
<button type="submit" name="type" value="google" data-testid="account-type-google">Googleで作成</button>
</form>`,
  );
}

export function renderEmailForm(form: FormState, email = ''): string {
  return page(
    'メールアドレスの登録',
    html`${formAlert(form)}
<form method="post" action="/signup/email">${csrfInput(form.csrfToken)}
<label>メールアドレス <input type="email" name="email" value="${email}" data-testid="signup-email" autocomplete="email" required></label>
<label>パスワード（英字と数字を含む8文字以上） <input type="password" name="password" data-testid="signup-password" autocomplete="new-password" required></label>
<button type="submit" data-testid="signup-send-code">確認コードを送信する</button>
</form>`,
  );
}

export function renderCodeForm(form: FormState, email: string): string {
  return page(
    '確認コードの入力',
    html`${formAlert(form)}
<p data-testid="sent-to">${email} に6桁の確認コードを送信しました。確認コードの有効期限は10分です。</p>
<form method="post" action="/signup/code">${csrfInput(form.csrfToken)}
<label>確認コード <input type="text" name="code" data-testid="signup-code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required></label>
<button type="submit" data-testid="signup-code-submit">次へ</button>
</form>
<form method="post" action="/signup/code/resend">${csrfInput(form.csrfToken)}
<button type="submit" data-testid="signup-code-resend">確認コードを再送する</button>
</form>`,
  );
}

export function renderProfileForm(form: FormState, nickname = ''): string {
  return page(
    'プロフィール情報を入力する',
    html`${formAlert(form)}
<form method="post" action="/signup/profile">${csrfInput(form.csrfToken)}
<label>ニックネーム <input type="text" name="nickname" value="${nickname}" data-testid="signup-nickname" maxlength="20" required></label>
<button type="submit" data-testid="signup-profile-submit">登録する</button>
</form>`,
  );
}

const kSex: Record<string, string> = { '1': '男性', '2': '女性', '3': 'その他' };

function applicationsList(applications: readonly OnlineApplication[]): SafeHtml {
  return html`<section data-testid="applications">
<h2>オンライン申請</h2>
<p>登録した情報をもとに、あなたに必要な手続きを確認でき、オンライン申請を行うことができます。</p>
<ul>
${applications.map(
  (a) => html`<li data-testid="application" data-id="${a.id}"><span data-testid="application-title">${a.title}</span>（${a.department}）${a.needsCard ? '【マイナンバーカードが必要】' : ''}</li>
`,
)}</ul>
</section>`;
}

export interface MyPageView {
  account: Account;
  link: CardLink | undefined;
  postBoxEnabled: boolean;
  applications: readonly OnlineApplication[];
  flash: string | undefined;
}

export function renderMyPage(form: FormState, view: MyPageView): string {
  return page(
    'マイページ',
    html`${
      view.flash === 'アカウント作成完了'
        ? html`<section data-testid="flash"><h2>アカウント作成完了</h2>
<p>デジタル郵便受け（POST）をご利用になる場合は、マイナンバーカード連携が必要です。</p>
<p>「２．マイナンバーカード連携」をご確認のうえ引き続き設定をお願いします。</p></section>`
        : view.flash && html`<section data-testid="flash"><h2>${view.flash}</h2></section>`
    }
${formAlert(form)}
<p data-testid="nickname">${view.account.nickname} さん</p>
<section>
<h2>マイナンバーカード連携</h2>
${
  view.link
    ? html`<p data-testid="link-status">連携済み</p>
<dl data-testid="card-profile">
<dt>氏名</dt><dd data-testid="profile-name">${view.link.name}</dd>
<dt>住所</dt><dd data-testid="profile-address">${view.link.address}</dd>
<dt>生年月日</dt><dd data-testid="profile-birth">${view.link.birth}</dd>
<dt>性別</dt><dd data-testid="profile-sex">${kSex[view.link.sex] ?? view.link.sex}</dd>
</dl>`
    : html`<p data-testid="link-status">未連携</p>
<p>マイナンバーカード連携をするとできること: あなたへのお知らせが届くデジタル郵便受け「POST」を利用できるようになります。また、情報を自動で入力できるため連携サービスが便利にお使いいただけます。</p>
<p><a href="/mypage/link" data-testid="link-card">マイナンバーカードを連携する</a></p>`
}
</section>
<section>
<h2>デジタル郵便受け（POST）</h2>
${
  view.postBoxEnabled
    ? html`<p data-testid="post-status">利用中</p>`
    : html`<p data-testid="post-status">未設定</p>
<p><a href="/mypage/post" data-testid="post-box">デジタル郵便受け</a></p>`
}
</section>
${applicationsList(view.applications)}
<form method="post" action="/logout">${csrfInput(form.csrfToken)}<button type="submit" data-testid="logout">ログアウト</button></form>`,
  );
}

export function renderLinkStart(form: FormState): string {
  return page(
    'マイナンバーカード連携',
    html`${formAlert(form)}
<p>マイナンバーカード連携する場合、外部アプリ「クロスアイディアプリ」が必要になります。</p>
<form method="post" action="/mypage/link/start">${csrfInput(form.csrfToken)}
<button type="submit" data-testid="link-start">連携する</button>
</form>`,
  );
}

export function renderLinkWaiting(input: { deepLink: string; qrImage: string }): string {
  return page(
    'クロスアイディアプリで連携',
    html`<p>クロスアイディアプリをインストール済みの方は「アプリを開く」、クロスアイディアプリを未インストールの方は「アプリを持っていない」をタップしてください。</p>
<p>パソコンでご覧の方は、スマートフォンのクロスアイディアプリで二次元コードを読み取ってください。</p>
<img data-testid="qr" alt="連携用の二次元コード" src="${input.qrImage}" width="196" height="196">
<p><a data-testid="open-app" href="${input.deepLink}">アプリを開く</a></p>
<p><a data-testid="no-app" href="${kXidHelpUrl}">アプリを持っていない</a></p>
<p>アプリでの連携が終わると、この画面は自動で進みます。</p>`,
    { refreshSeconds: 1 },
  );
}

export function renderLinkFailed(code: string, message: string): string {
  return page(
    '連携できませんでした',
    html`<p role="alert" data-testid="link-failure" data-code="${code}">${message}</p>
<p><a href="/mypage/link" data-testid="link-retry">もう一度連携する</a></p>
<p><a href="/mypage">マイページへ</a></p>`,
  );
}

export function renderPostBoxForm(form: FormState): string {
  return page(
    'デジタル郵便受けを設定する',
    html`${formAlert(form)}
<section data-testid="post-terms">
<p>デジタル郵便受け（POST）では、仙台市からあなたへのお知らせを、郵送に代えて電子で受け取ることができます。</p>
<p>設定すると、対象の通知は紙の郵送に代えてデジタル郵便受けに届きます。</p>
</section>
<form method="post" action="/mypage/post">${csrfInput(form.csrfToken)}
<label><input type="checkbox" name="agree" value="yes" data-testid="post-agree"> 同意する</label>
<button type="submit" data-testid="post-submit">設定する</button>
</form>`,
  );
}

export function renderPostBoxDone(): string {
  return page('設定は完了です', html`<p data-testid="post-done">デジタル郵便受け（POST）の設定は完了です。</p>
<p><a href="/mypage" data-testid="back-to-mypage">マイページへ</a></p>`);
}

/** The error page; `detail` only in test mode. */
export function renderError(error: RegistryError, detail: string | undefined): string {
  return page('エラー', errorBody(error.code, error.userMessage, detail));
}
