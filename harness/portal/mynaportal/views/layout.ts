/**
 * What every page of this portal adds to the portals' frame (../../shared/page.ts): the mock portal's
 * banner (so nobody mistakes it for the real Mynaportal), its stylesheet, the CSRF token for page
 * scripts, and the screen number the guide prints on each screen (`画面番号:B-01`), which scenarios
 * use to know where they are.
 *
 * Screen numbers from the Mynaportal guide: A-02 (メインメニュー), B-01, B-02. The guide prints
 * none for the other screens; these are ours, in its pattern: T-01 トップ, L-01 ログイン,
 * L-02 ログアウト完了, B-03 登録完了, M-01 スマートフォン案内, E-01 エラー, and for the online application
 * AP-01 入力, AP-02 確認 (電子署名), AP-03 完了, M-02 署名アプリ案内.
 */
import { html, type SafeHtml } from '../../shared/html.js';
import { renderLayout } from '../../shared/page.js';

export interface PageSpec {
  title: string;
  screenId: string;
  body: SafeHtml;
  /** Rendered as `<meta name="csrf-token">` for page scripts. */
  csrfToken?: string | undefined;
  /** Extra elements for `<head>` (metadata and scripts of one page). */
  head?: SafeHtml | undefined;
  /** Shows ログアウト in the header. */
  logoutCsrfToken?: string | undefined;
}

export function renderPage(spec: PageSpec): string {
  const logout =
    spec.logoutCsrfToken !== undefined
      ? html`<form method="post" action="/logout" class="header-logout">
          <input type="hidden" name="_csrf" value="${spec.logoutCsrfToken}">
          <button type="submit" data-testid="logout">ログアウト</button>
        </form>`
      : null;
  return renderLayout({
    title: spec.title,
    site: 'マイナポータル（jpki-hil 模擬）',
    styles: ['/static/portal.css'],
    head: [spec.csrfToken !== undefined ? html`<meta name="csrf-token" content="${spec.csrfToken}">` : null, spec.head],
    header: html`<header class="site-header">
  <p class="brand"><a href="/">マイナポータル</a> <span class="mock-label">jpki-hil 模擬ポータル（テスト用）</span></p>
  <nav><span>使い方</span> <span>よくある質問</span></nav>
  ${logout}
</header>`,
    body: html`${spec.body}
<p class="screen-id" data-testid="screen-id">画面番号:${spec.screenId}</p>`,
  });
}
