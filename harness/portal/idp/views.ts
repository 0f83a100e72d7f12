/** The IdP's pages: the waiting page with the QR code and the deep link, and the error page. */
import { html, type SafeHtml } from '../shared/html.js';
import { refreshEvery, renderLayout } from '../shared/page.js';

function layout(title: string, body: SafeHtml, options: { refreshSeconds?: number } = {}): string {
  return renderLayout({
    title,
    site: 'デジタル認証（テスト）',
    header: html`<header><p>デジタル認証（テスト用IdP）</p></header>`,
    head: options.refreshSeconds ? refreshEvery(options.refreshSeconds) : undefined,
    body,
  });
}

export function renderAuthorizePage(input: { clientName: string; scopes: string[]; deepLink: string; qrImage: string; failure?: string | undefined }): string {
  const claims: Record<string, string> = { name: '氏名', address: '住所', birthdate: '生年月日', gender: '性別' };
  const shared = input.scopes.filter((s) => s in claims).map((s) => claims[s]!);
  return layout(
    'マイナンバーカードで認証',
    html`<p data-testid="client">${input.clientName} がマイナンバーカードによる本人確認を求めています。</p>
${shared.length > 0 && html`<p data-testid="claims">提供される情報: ${shared.join('、')}</p>`}
${input.failure && html`<p role="alert" data-testid="failure">${input.failure}</p>`}
<p>スマートフォンのデジタル認証アプリで二次元コードを読み取ってください。</p>
<img data-testid="qr" alt="認証用の二次元コード" src="${input.qrImage}" width="196" height="196">
<p>このスマートフォンでお使いの方は「アプリを開く」をタップしてください。</p>
<p><a data-testid="deep-link" href="${input.deepLink}">アプリを開く</a></p>
<p>アプリでの認証が終わると、この画面は自動で進みます。</p>`,
    { refreshSeconds: 1 },
  );
}

export function renderErrorPage(code: string, description: string | undefined): string {
  return layout(
    '認証できませんでした',
    html`<p role="alert" data-testid="error-code">${code}</p>
${description && html`<p data-testid="error-description">${description}</p>`}
<p>連携元のサービスに戻って、もう一度お試しください。</p>`,
  );
}
