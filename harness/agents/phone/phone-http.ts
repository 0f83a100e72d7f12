/**
 * How every phone app talks to its server (portal or identity provider): JSON in, a JSON object
 * out, and any refusal turned into a PhoneError that keeps the server's own code, so that a test or
 * the runner can tell a portal's refusal from an unreachable portal or a broken answer.
 */

/** Who a failure belongs to: the card (or the person at it), the server, or the phone itself. */
export type PhoneErrorSource = 'card' | 'portal' | 'phone';

export class PhoneError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly source: PhoneErrorSource,
    /** With WRONG_PIN: tries the card has left. */
    readonly triesLeft?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PhoneError';
  }
}

/** How much of an unexpected answer goes into a message. */
export const kExcerpt = 200;

export async function requestJson(
  fetchFn: typeof fetch,
  who: string,
  url: string,
  init: { method: 'GET' | 'POST'; body?: Record<string, unknown> },
): Promise<Record<string, unknown>> {
  let response: Response;
  let text: string;
  try {
    response = await fetchFn(url, {
      method: init.method,
      headers: { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    text = await response.text();
  } catch (e) {
    throw new PhoneError('PORTAL_UNREACHABLE', `${who}: cannot reach ${url} (${(e as Error).message})`, 'phone', undefined, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fields = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  if (!response.ok) {
    if (fields && typeof fields.code === 'string') {
      throw new PhoneError(fields.code, typeof fields.message === 'string' ? fields.message : `${url} answered ${response.status}`, 'portal');
    }
    throw new PhoneError('PORTAL_ERROR', `${who}: ${url} answered ${response.status}: ${text.slice(0, kExcerpt)}`, 'portal');
  }
  if (!fields) throw new PhoneError('PORTAL_ERROR', `${who}: ${url} answered ${response.status} with something other than a JSON object: ${text.slice(0, kExcerpt)}`, 'portal');
  return fields;
}

/**
 * A hand-off link `<server><path>?tx=<id>&t=<token>` (QR code or deep link) → the server's base URL,
 * the transaction and its one-time token; anything else is QR_INVALID naming the expected form.
 */
export function parseTransactionLink(link: string, path: string, what: string): { base: string; transaction: string; token: string } {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new PhoneError('QR_INVALID', `"${link.slice(0, kExcerpt)}" is not a URL`, 'phone');
  }
  const transaction = url.searchParams.get('tx');
  const token = url.searchParams.get('t');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.pathname.endsWith(path) || !transaction || !token) {
    throw new PhoneError('QR_INVALID', `${link.slice(0, kExcerpt)} is not ${what} ${path}?tx=<id>&t=<token>`, 'phone');
  }
  return { base: `${url.origin}${url.pathname.slice(0, -path.length)}`, transaction, token };
}
