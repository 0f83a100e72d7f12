/** The pieces the small portals' (city portal, My Page) forms and error pages share. */
import { kCsrfField } from './browser-sessions.js';
import { html, type HtmlValue, type SafeHtml } from './html.js';
import { renderLayout } from './page.js';

export interface FormState {
  csrfToken: string;
  error?: string | undefined;
  errorCode?: string | undefined;
}

/** A whole page of a small portal: its name in the title and in the header's link home. */
export function portalPage(portalName: string, title: string, body: SafeHtml, head?: HtmlValue): string {
  return renderLayout({ title, site: portalName, header: html`<header><p><a href="/">${portalName}</a></p></header>`, head, body });
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
