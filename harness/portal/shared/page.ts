/**
 * The page frame of every portal: `lang="ja"`, the document title with the site's name after it,
 * the portal's own header, and the title again as the page's heading. Every value goes through `html`.
 */
import { html, type HtmlValue, type SafeHtml } from './html.js';

export interface PageLayout {
  /** The heading, and the document title before ` | ${site}`. */
  title: string;
  site: string;
  /** The whole `<header>` element: each portal's banner. */
  header: SafeHtml;
  /** Stylesheets, by URL. */
  styles?: readonly string[];
  /** More elements for `<head>`: a page's metadata and scripts, a refresh. */
  head?: HtmlValue;
  body: SafeHtml;
}

export function renderLayout(page: PageLayout): string {
  return html`<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} | ${page.site}</title>
${(page.styles ?? []).map((href) => html`<link rel="stylesheet" href="${href}">
`)}${page.head === undefined ? '' : html`${page.head}
`}</head>
<body>
${page.header}
<main>
<h1 data-testid="page-title">${page.title}</h1>
${page.body}
</main>
</body>
</html>
`.value;
}

/** For `head`: the page reloads itself every `seconds` (waiting pages, which have no scripts). */
export function refreshEvery(seconds: number): SafeHtml {
  return html`<meta http-equiv="refresh" content="${seconds}">`;
}
