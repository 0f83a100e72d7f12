/**
 * The online application screens, after the TASK-portal and LoGo form guides (入力 → 確認 → 電子署名
 * → 完了). The guides print no screen numbers here; ours follow the pattern of the others:
 * AP-01 申請内容の入力, AP-02 申請内容の確認 (電子署名 and 申請する), AP-03 申請完了, M-02 the https
 * hand-off opened outside the signing app. The work of AP-01 and AP-02 happens in
 * /static/application.js.
 */
import { kAgentMessages, kUnknownAgentMessage } from '../agent-messages.js';
import { html, jsonData, type SafeHtml } from '../../shared/html.js';
import type { ApplicationPageMessages } from '../browser/page-data.js';
import { renderPage } from './layout.js';

export interface ApplicationForm {
  /** 申請先 */
  recipient: string;
  /** 申請名 */
  title: string;
  /** 氏名 */
  name: string;
  /** 住所 */
  address: string;
  /** 電話番号 */
  phone: string;
  /** 備考 */
  note: string;
}

const kLabels: Record<keyof ApplicationForm, string> = { recipient: '申請先', title: '申請名', name: '氏名', address: '住所', phone: '電話番号', note: '備考' };

export const kApplicationStatusMessages = {
  connecting: 'ICカードリーダ用のソフトウェアに接続しています…',
  readingCardInfo: 'マイナンバーカードの券面事項を読み取っています…',
  prefilled: 'マイナンバーカードから氏名と住所を入力しました。',
  creating: '電子署名の準備をしています…',
  waiting: 'スマートフォンの署名アプリで電子署名を行ってください。',
  signed: '電子署名済み',
  expired: '署名の依頼の有効期限が切れました。もう一度「電子署名を行う」を押してください。',
  confirmSubmit: '申請します。よろしいですか？',
  unexpected: '通信エラーが発生しました。しばらく時間をおいてから、もう一度お試しください。',
} as const;

function field(form: ApplicationForm, errors: Partial<Record<keyof ApplicationForm, string>>, key: keyof ApplicationForm, required: boolean): SafeHtml {
  const input =
    key === 'note'
      ? html`<textarea name="${key}" id="${key}" data-testid="input-${key}" rows="3">${form[key]}</textarea>`
      : html`<input type="text" name="${key}" id="${key}" data-testid="input-${key}" value="${form[key]}">`;
  return html`<tr><th><label for="${key}">${kLabels[key]}</label>${required ? html`<span class="required">必須</span>` : null}</th>
<td>${input}${errors[key] ? html`<p class="field-error" data-testid="error-${key}">${errors[key]}</p>` : null}</td></tr>`;
}

export function renderApplicationForm(view: {
  form: ApplicationForm;
  errors: Partial<Record<keyof ApplicationForm, string>>;
  csrfToken: string;
  pcAgentUrl: string;
}): string {
  const { form, errors } = view;
  const head = html`<meta name="pc-agent-url" content="${view.pcAgentUrl}">
<script type="module" src="/static/application.js"></script>`;
  const body = html`
<p>申請内容を入力してください。氏名と住所は、マイナンバーカードから入力することもできます（ICカードリーダライタと、券面事項入力補助用の暗証番号（数字4桁）が必要です）。</p>
<form method="post" action="/applications/confirm" data-testid="application-form">
  <input type="hidden" name="_csrf" value="${view.csrfToken}">
  <table class="form">
    ${field(form, errors, 'recipient', true)}
    ${field(form, errors, 'title', true)}
    ${field(form, errors, 'name', true)}
    ${field(form, errors, 'address', true)}
    ${field(form, errors, 'phone', false)}
    ${field(form, errors, 'note', false)}
  </table>
  <p><button type="button" data-testid="prefill-from-card">マイナンバーカードから入力</button></p>
  <p class="status" data-testid="application-status" role="status" aria-live="polite"></p>
  <p class="error" data-testid="application-error" role="alert" hidden></p>
  <div class="actions"><a class="button" href="/menu">戻る</a><button type="submit" class="primary" data-testid="to-confirm">確認画面へ進む</button></div>
</form>
${jsonData('application-messages', { agent: kAgentMessages, unknownAgent: kUnknownAgentMessage, status: kApplicationStatusMessages } satisfies ApplicationPageMessages)}`;
  return renderPage({ title: '申請内容の入力', screenId: 'AP-01', body, csrfToken: view.csrfToken, head, logoutCsrfToken: view.csrfToken });
}

export function renderApplicationConfirm(view: { id: string; form: ApplicationForm; appliedOn: string; signed: boolean; csrfToken: string }): string {
  const keys = Object.keys(kLabels) as (keyof ApplicationForm)[];
  const head = html`<script type="module" src="/static/application.js"></script>`;
  const body = html`
<p>入力内容を確認しましたら「電子署名を行う」を押してください。電子署名には、マイナンバーカードと署名用電子証明書のパスワード（英数字6文字以上16文字以下）が必要です。</p>
<table class="form" data-testid="confirm-table">
  ${keys.map((key) => html`<tr><th>${kLabels[key]}</th><td data-testid="confirm-${key}">${view.form[key]}</td></tr>`)}
  <tr><th>申請日</th><td data-testid="confirm-appliedOn">${view.appliedOn}</td></tr>
</table>
<section data-testid="signing-section" data-application-id="${view.id}">
  <h2>電子署名</h2>
  <p data-testid="sign-state" data-state="${view.signed ? 'signed' : 'unsigned'}">${view.signed ? kApplicationStatusMessages.signed : '未署名'}</p>
  <button type="button" class="primary" data-testid="sign-start"${view.signed ? html` hidden` : null}>電子署名を行う</button>
  <div data-testid="sign-panel" hidden>
    <p>スマートフォンでこの画面を表示している方は、下のボタンから署名アプリを開いてください。</p>
    <p><a class="button primary" data-testid="sign-deeplink" href="#">「署名アプリ」を開く</a></p>
    <p>パソコンでこの画面を表示している方は、署名アプリで下の2次元バーコードを読み取ってください。</p>
    <img data-testid="sign-qr" alt="電子署名用の2次元バーコード" width="296" height="296">
    <p data-testid="sign-expires"></p>
  </div>
  <p class="status" data-testid="application-status" role="status" aria-live="polite"></p>
  <p class="error" data-testid="application-error" role="alert" hidden></p>
</section>
<form method="post" action="/applications/${view.id}/submit" data-testid="submit-form">
  <input type="hidden" name="_csrf" value="${view.csrfToken}">
  <div class="actions"><a class="button" href="/applications/new">1つ前の画面に戻る</a><button type="submit" class="primary" data-testid="submit"${view.signed ? null : html` disabled`}>申請する</button></div>
</form>
${jsonData('application-messages', { agent: kAgentMessages, unknownAgent: kUnknownAgentMessage, status: kApplicationStatusMessages } satisfies ApplicationPageMessages)}`;
  return renderPage({ title: '申請内容の確認', screenId: 'AP-02', body, csrfToken: view.csrfToken, head, logoutCsrfToken: view.csrfToken });
}

export function renderApplicationComplete(view: { submissionId: string; title: string; recipient: string; logoutCsrfToken: string }): string {
  const body = html`
<p data-testid="complete-message">申請が完了しました。</p>
<table class="form">
  <tr><th>申請番号</th><td data-testid="submission-id">${view.submissionId}</td></tr>
  <tr><th>申請先</th><td>${view.recipient}</td></tr>
  <tr><th>申請名</th><td>${view.title}</td></tr>
</table>
<div class="actions"><a class="button" href="/menu" data-testid="menu-link">メインメニューへ</a></div>`;
  return renderPage({ title: '申請完了', screenId: 'AP-03', body, logoutCsrfToken: view.logoutCsrfToken });
}

export function renderSignLanding(): string {
  const body = html`<p>この画面は、署名アプリで開いてください。署名アプリがインストールされていない場合は、アプリをインストールしてから申請画面の「電子署名を行う」からやり直してください。</p>`;
  return renderPage({ title: '署名アプリで開いてください', screenId: 'M-02', body });
}
