/**
 * ログイン (L-01): the two ways in of the Mynaportal guide — an IC card reader through the PC
 * agent, or a smartphone through a QR code. The work happens in /static/login.js; this page gives
 * it the CSRF token, the agent's URL and the messages, and the elements it drives.
 */
import { kAgentMessages, kQrExpiredMessage, kUnknownAgentMessage, kWrongPinWithTries } from '../agent-messages.js';
import { html, jsonData } from '../../shared/html.js';
import type { LoginPageMessages } from '../browser/page-data.js';
import { renderPage } from './layout.js';

/** What the script says while it works, and for failures that are neither the agent's nor the portal's. */
export const kLoginStatusMessages = {
  connecting: 'ICカードリーダ用のソフトウェアに接続しています…',
  checkingCard: 'マイナンバーカードを確認しています…',
  enterPin: 'ICカードリーダ用のソフトウェアの画面で、利用者証明用電子証明書のパスワード（数字4桁）を入力してください。',
  verifying: '電子証明書を確認しています…',
  readingCardInfo: 'マイナンバーカードの券面事項を読み取っています…',
  loggedIn: 'ログインしました。',
  qrCreating: '2次元バーコードを作成しています…',
  qrShown: 'スマートフォンのマイナポータルアプリで、この2次元バーコードを読み取ってください。',
  unexpected: '通信エラーが発生しました。しばらく時間をおいてから、もう一度お試しください。',
} as const;

export function renderLoginPage(options: { csrfToken: string; pcAgentUrl: string }): string {
  const head = html`<meta name="pc-agent-url" content="${options.pcAgentUrl}">
<script type="module" src="/static/login.js"></script>`;
  const body = html`
<p>ログインにあたってはマイナンバーカードの利用者証明用電子証明書パスワード（4桁の数字）の入力が必要です。</p>
<div class="login-methods">
  <section class="login-method" data-testid="login-ic-section">
    <h2>ICカードリーダライタをお持ちの方</h2>
    <p>ICカードリーダライタにマイナンバーカードをセットし、ボタンを押してください。</p>
    <button type="button" class="primary" data-testid="login-ic-card">ICカードリーダでログイン</button>
  </section>
  <section class="login-method" data-testid="login-qr-section">
    <h2>対応スマートフォンをお持ちの方</h2>
    <p>パソコンに表示される2次元バーコードを、スマートフォンで読み取ってログインします。</p>
    <button type="button" class="primary" data-testid="login-smartphone">スマートフォンでログイン</button>
    <div class="qr-panel" data-testid="qr-panel" hidden>
      <img data-testid="qr-code" alt="ログイン用の2次元バーコード" width="264" height="264">
      <p data-testid="qr-expires"></p>
    </div>
  </section>
</div>
<p class="status" data-testid="login-status" role="status" aria-live="polite"></p>
<p class="error" data-testid="login-error" role="alert" hidden></p>
<div class="actions"><a class="button" href="/" data-testid="cancel">キャンセル</a></div>
<noscript><p class="error">ログインにはJavaScriptを有効にしてください。</p></noscript>
${jsonData('login-messages', {
  agent: kAgentMessages,
  wrongPinWithTries: kWrongPinWithTries,
  unknownAgent: kUnknownAgentMessage,
  qrExpired: kQrExpiredMessage,
  status: kLoginStatusMessages,
} satisfies LoginPageMessages)}`;
  return renderPage({ title: 'ログイン', screenId: 'L-01', body, csrfToken: options.csrfToken, head });
}
