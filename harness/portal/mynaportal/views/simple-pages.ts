/** The pages with little on them: トップ, ログアウト完了, the phone landing page and the error page. */
import { kPortalErrors, type PortalErrorCode } from '../errors.js';
import { html } from '../../shared/html.js';
import { renderPage } from './layout.js';

export function renderTopPage(options: { loggedIn: boolean; logoutCsrfToken?: string | undefined }): string {
  const body = html`
<section class="intro">
  <p>マイナポータルは、マイナンバーカードを使ってログインする行政のオンラインサービスです。</p>
  <p>ログインには、マイナンバーカードと、ICカードリーダライタまたはマイナンバーカードの読み取りに対応したスマートフォンが必要です。</p>
</section>
<div class="actions">
  ${
    options.loggedIn
      ? html`<a class="button primary" href="/menu" data-testid="menu-link">メインメニュー</a>`
      : html`<a class="button primary" href="/login" data-testid="login-link">ログイン</a>
  <a class="button" href="/login" data-testid="first-time-link">はじめて利用される方はこちら</a>`
  }
</div>`;
  return renderPage({ title: 'トップ', screenId: 'T-01', body, logoutCsrfToken: options.loggedIn ? options.logoutCsrfToken : undefined });
}

export function renderLoggedOutPage(): string {
  const body = html`
<p data-testid="logged-out-message">ログアウトしました。ご利用ありがとうございました。</p>
<div class="actions"><a class="button" href="/" data-testid="top-link">トップへ戻る</a></div>`;
  return renderPage({ title: 'ログアウト完了', screenId: 'L-02', body });
}

/** What a phone's browser shows when the QR URL is opened outside the phone app. */
export function renderQrLandingPage(): string {
  const body = html`
<p data-testid="qr-landing-message">この2次元バーコードは、スマートフォンのマイナポータルアプリで読み取ってください。</p>`;
  return renderPage({ title: '2次元バーコードでログイン', screenId: 'M-01', body });
}

export function renderErrorPage(code: PortalErrorCode, detail?: string): string {
  const loginHint = code === 'NOT_LOGGED_IN' || code === 'LOGIN_PENDING_EXPIRED' || code === 'CSRF_INVALID';
  const body = html`
<p class="error" data-testid="page-error" data-code="${code}">${kPortalErrors[code].message}</p>
${detail ? html`<p class="detail" data-testid="page-error-detail">${detail}</p>` : null}
<div class="actions">
  ${loginHint ? html`<a class="button primary" href="/login" data-testid="login-link">ログイン</a>` : null}
  <a class="button" href="/" data-testid="top-link">トップへ戻る</a>
</div>`;
  return renderPage({ title: 'エラー', screenId: 'E-01', body });
}
