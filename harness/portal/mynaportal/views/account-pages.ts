/**
 * アカウント情報登録: 入力 (B-01), 確認 (B-02) and 完了 (B-03), laid out after the guide: a
 * two-column table of fields, the step indicator 入力 / 確認 / 完了, and the buttons at the bottom.
 */
import { kNicknameMaxLength, kNotificationGroups, type AccountDraft, type AccountField, type AccountFormValues } from '../account-form.js';
import { html, type SafeHtml } from '../../shared/html.js';
import { renderPage } from './layout.js';

function steps(current: 1 | 2 | 3): SafeHtml {
  const names = ['入力', '確認', '完了'];
  return html`<ol class="steps" data-testid="steps">${names.map((name, i) =>
    i + 1 === current ? html`<li aria-current="step"><strong>${name}</strong></li>` : html`<li>${name}</li>`,
  )}</ol>`;
}

function fieldError(errors: Partial<Record<AccountField, string>>, field: AccountField): SafeHtml | null {
  const message = errors[field];
  return message ? html`<p class="field-error" data-testid="error-${field}" id="error-${field}">${message}</p>` : null;
}

function textInput(name: string, testId: AccountField, value: string, errors: Partial<Record<AccountField, string>>, extra?: { maxlength?: number }): SafeHtml {
  const invalid = errors[testId] !== undefined;
  return html`<input type="text" name="${name}" value="${value}" data-testid="input-${testId}"${
    extra?.maxlength ? html` maxlength="${extra.maxlength}"` : null
  }${invalid ? html` aria-invalid="true" aria-describedby="error-${testId}"` : null}>`;
}

function checkbox(name: string, testId: string, checked: boolean, label: string): SafeHtml {
  return html`<label><input type="checkbox" name="${name}" value="on" data-testid="${testId}"${checked ? html` checked` : null}> ${label}</label>`;
}

export function renderAccountInputPage(options: { csrfToken: string; values: AccountFormValues; errors: Partial<Record<AccountField, string>> }): string {
  const { values, errors } = options;
  const hasErrors = Object.keys(errors).length > 0;
  const groups = kNotificationGroups.map(
    (group) => html`<tr>
      <th>${group.heading}</th>
      <td><p>${group.description}</p>${group.flags.map((f) => html`<div>${checkbox(f.field, f.field, values.flags[f.flag], f.label)}</div>`)}</td>
    </tr>`,
  );
  // The guide's order: nickname, the service and report notifications, the addresses, language,
  // login notification, other-site counts.
  const [service, report, login, otherSites] = groups;
  const body = html`
${steps(1)}
<p data-testid="login-success-note">マイナンバーカードによるログインが成功しました。</p>
<p>引き続きアカウント情報を登録してください。登録が完了するとすぐにサービスをご利用いただけます。
以下の項目を入力し、ページ下部の「利用規約に同意して確認」ボタンをクリックしてください。</p>
${hasErrors ? html`<p class="error" data-testid="form-errors" role="alert">入力内容に誤りがあります。各項目のメッセージをご確認ください。</p>` : null}
<form method="post" action="/account/confirm" data-testid="account-form" novalidate>
<input type="hidden" name="_csrf" value="${options.csrfToken}">
<table class="form">
  <tr>
    <th>ニックネーム<span class="required">必須</span></th>
    <td><p>${kNicknameMaxLength}文字以内で入力してください。</p>${textInput('nickname', 'nickname', values.nickname, errors)}${fieldError(errors, 'nickname')}</td>
  </tr>
  ${service}
  ${report}
  <tr>
    <th>通知先メールアドレス 1</th>
    <td><p>半角英数字で入力してください。</p>${textInput('email1', 'email1', values.email1, errors)}${fieldError(errors, 'email1')}</td>
  </tr>
  <tr>
    <th>通知先メールアドレス 1 (確認)</th>
    <td><p>半角英数字で入力してください。</p>${textInput('email1_confirm', 'email1Confirm', values.email1Confirm, errors)}${fieldError(errors, 'email1Confirm')}</td>
  </tr>
  <tr>
    <th>通知先メールアドレス 2</th>
    <td><p>半角英数字で入力してください。 (通知先メールアドレス1と同じアドレスは登録できません。)</p>${textInput('email2', 'email2', values.email2, errors)}${fieldError(errors, 'email2')}</td>
  </tr>
  <tr>
    <th>通知先メールアドレス 2 (確認)</th>
    <td><p>半角英数字で入力してください。</p>${textInput('email2_confirm', 'email2Confirm', values.email2Confirm, errors)}${fieldError(errors, 'email2Confirm')}</td>
  </tr>
  <tr>
    <th>言語の指定</th>
    <td><p>日本語のみ選択できます。</p>${checkbox('language_ja', 'language_ja', values.languageJa, '日本語')} ${checkbox('language_en', 'language_en', values.languageEn, '英語')}${fieldError(errors, 'language')}</td>
  </tr>
  ${login}
  ${otherSites}
</table>
<div class="actions">
  <button type="submit" formaction="/account/cancel" data-testid="cancel">キャンセル</button>
  <button type="submit" class="primary" data-testid="confirm">利用規約に同意して確認</button>
</div>
</form>`;
  return renderPage({ title: 'アカウント情報登録 (入力)', screenId: 'B-01', body });
}

function chosenLabels(draft: AccountDraft, groupId: string): SafeHtml {
  const group = kNotificationGroups.find((g) => g.id === groupId)!;
  return html`${group.flags.filter((f) => draft.flags[f.flag]).map((f) => html`<span data-testid="confirm-${f.field}">${f.label}</span> `)}`;
}

export function renderAccountConfirmPage(options: { csrfToken: string; draft: AccountDraft }): string {
  const { draft } = options;
  const row = (label: string, testId: string, value: SafeHtml | string): SafeHtml => html`<tr><th>${label}</th><td data-testid="${testId}">${value}</td></tr>`;
  const body = html`
${steps(2)}
<p>以下の内容でアカウント情報を登録します。よろしければ、「完了」ボタンをクリックしてください。
なお、アカウント情報については、登録完了後もアカウント情報変更より変更することができます。</p>
<table class="form">
  ${row('ニックネーム', 'confirm-nickname', draft.nickname)}
  ${row('マイナポータルが提供するサービスからのメール通知の希望', 'confirm-service', chosenLabels(draft, 'service'))}
  ${row('マイナポータルからの報告に関するメール通知の希望', 'confirm-report', chosenLabels(draft, 'report'))}
  ${row('通知先メールアドレス1', 'confirm-email1', draft.email1)}
  ${row('通知先メールアドレス2', 'confirm-email2', draft.email2)}
  ${row('言語の指定', 'confirm-language', '日本語')}
  ${row('ログイン実施のメール通知の希望', 'confirm-login', chosenLabels(draft, 'login'))}
  ${row('他サイトでのお知らせ着信件数通知の希望', 'confirm-other-sites', chosenLabels(draft, 'other-sites'))}
</table>
<form method="post" action="/account/register" data-testid="register-form">
<input type="hidden" name="_csrf" value="${options.csrfToken}">
<div class="actions">
  <button type="submit" formaction="/account/cancel" data-testid="cancel">キャンセル</button>
  <a class="button" href="/account/new" data-testid="edit">修正</a>
  <button type="submit" class="primary" data-testid="register">完了</button>
</div>
</form>`;
  return renderPage({ title: 'アカウント情報登録 (確認)', screenId: 'B-02', body });
}

export function renderAccountDonePage(options: { nickname: string; logoutCsrfToken: string }): string {
  const body = html`
${steps(3)}
<p data-testid="registered-message">アカウント情報の登録が完了しました。</p>
<p>引き続き、マイナポータルを利用する場合は、メインメニューボタンを押してください。</p>
<p>ようこそ <span data-testid="nickname">${options.nickname}</span>さん</p>
<div class="actions">
  <a class="button primary" href="/menu" data-testid="menu-link">メインメニュー</a>
</div>`;
  return renderPage({ title: 'アカウント情報登録 (完了)', screenId: 'B-03', body, logoutCsrfToken: options.logoutCsrfToken });
}
