/**
 * メインメニュー (A-02), after the guide's screen: the previous login and the certificate's expiry
 * at the top, the welcome line with the nickname, and the menu of functions (which this mock only
 * lists: the login is what is under test).
 */
import { html } from '../../shared/html.js';
import { renderPage } from './layout.js';

export interface MenuView {
  nickname: string;
  /** 'YYYY年M月D日 HH:mm' (JST). */
  previousLogin: string;
  /** 'YYYY年M月D日' (JST). */
  certificateExpiry: string;
  logoutCsrfToken: string;
}

const kFunctions = ['あなたの情報', 'やりとり履歴', 'お知らせ', '操作履歴', 'アカウント情報変更', 'もっとつながる', '代理人メニュー'];

export function renderMenuPage(view: MenuView): string {
  const body = html`
<div class="menu-header">
  <dl>
    <dt>前回のログイン:</dt><dd data-testid="previous-login">${view.previousLogin}</dd>
    <dt>電子証明書の有効期限:</dt><dd data-testid="certificate-expiry">${view.certificateExpiry}</dd>
  </dl>
  <p data-testid="welcome">ようこそ <span data-testid="nickname">${view.nickname}</span>さん</p>
</div>
<section>
  <h2>マイナポータルの機能</h2>
  <ul data-testid="menu-functions">${kFunctions.map((name) => html`<li>${name}</li>`)}</ul>
</section>`;
  return renderPage({ title: 'メインメニュー', screenId: 'A-02', body, logoutCsrfToken: view.logoutCsrfToken });
}
