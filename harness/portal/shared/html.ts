/**
 * The one way the portal writes HTML: a tagged template that escapes every interpolated value
 * unless it is already `SafeHtml` (the output of another `html` template). Names, addresses and
 * e-mail addresses come from cards and forms; routing them all through here means no page can
 * forget to escape one.
 */
import { escapeHtml } from '../../../common/markup.js';

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];


function render(value: HtmlValue): string {
  // null, undefined and false render as nothing, so that `${cond && html`...`}` reads naturally.
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/**
 * Data for a page script, as `<script type="application/json">`: JSON escaped so that no value can
 * close the element (`</script>`) or start a comment, whatever text it holds.
 */
export function jsonData(id: string, value: unknown): SafeHtml {
  const json = JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return new SafeHtml(`<script type="application/json" id="${escapeHtml(id)}">${json}</script>`);
}
