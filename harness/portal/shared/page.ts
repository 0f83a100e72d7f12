/**
 * The page frame of the small portals (city portal, My Page) and the pieces their forms share.
 * Every value goes through `html`.
 */
import { html, type HtmlValue, type SafeHtml } from './html.js';
import { kCsrfField } from './browser-sessions.js';

export interface FormState {
  csrfToken: string;
  error?: string | undefined;
  errorCode?: string | undefined;
}

/**
 * A whole page: the portal's name in the title and in the header's link home, the title as the
 * heading. `head`, when given, has a line of its own before the title (My Page's refresh).
 */
export function portalPage(portalName: string, title: string, body: SafeHtml, head?: HtmlValue): string {
  return html`<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${head === undefined ? '' : html`${head}
`}<title>${title} | ${portalName}</title>
</head>
<body>
<header><p><a href="/">${portalName}</a></p></header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.value;
}

export function csrfInput(token: string): SafeHtml {
  return html`<input type="hidden" name="${kCsrfField}" value="${token}">`;
}

/** The refusal a form is shown again with, if any. */
export function formAlert(form: FormState): HtmlValue {
  return form.error && html`<p role="alert" data-testid="error" data-code="${form.errorCode ?? ''}">${form.error}</p>`;
}

/** The error page's body; the detail only in test mode. */
export function errorBody(code: string, message: string, detail: string | undefined): SafeHtml {
  return html`<p role="alert" data-testid="error" data-code="${code}">${message}</p>
${detail && html`<p data-testid="error-detail">${detail}</p>`}
<p><a href="/">トップへ戻る</a></p>`;
}
