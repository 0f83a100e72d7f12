/**
 * The one HTML and XML writer of the project: escaping and elements for the reports, the portals'
 * pages, the certification pages and the bench's charts. Every piece of data reaches markup through
 * `escapeHtml` or `escapeXml`.
 */

/** C0 controls other than tab and line breaks, and DEL: HTML calls them parse errors; a card's garbage is dropped. */
const kHtmlControlChars = /[^\t\n\r\u0020-\u007E\u0080-\u{10FFFF}]/gu;
const kHtmlEntities: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML text and double- or single-quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(kHtmlControlChars, '').replace(/[&<>"']/g, (c) => kHtmlEntities[c]!);
}

/** Characters XML 1.0 forbids. */
const kForbiddenXmlChars = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const kXmlEntities: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/**
 * Drops characters XML 1.0 forbids and escapes markup. In attribute values (`attribute: true`) tabs
 * and line breaks become character references, so they survive parsing.
 */
export function escapeXml(text: string, { attribute = false }: { attribute?: boolean } = {}): string {
  const clean = text.replace(kForbiddenXmlChars, '');
  return clean.replace(attribute ? /[&<>"'\t\n\r]/g : /[&<>"']/g, (c) => kXmlEntities[c]!);
}

export type Attributes = Record<string, string | number | boolean | undefined>;

/** Elements HTML gives no end tag. */
const kVoidElements = new Set(['img', 'br', 'meta', 'input', 'link']);

/**
 * An HTML element whose body is already HTML; attribute values are escaped here. `true` makes a bare
 * boolean attribute; `undefined` and `false` leave the attribute out.
 */
export function el(name: string, attributes: Attributes, body = ''): string {
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k, v]) => (v === true ? ` ${k}` : ` ${k}="${escapeHtml(String(v))}"`))
    .join('');
  return kVoidElements.has(name) ? `<${name}${attrs}>` : `<${name}${attrs}>${body}</${name}>`;
}

/** An HTML element whose body is text. */
export function textEl(name: string, attributes: Attributes, body: string): string {
  return el(name, attributes, escapeHtml(body));
}
