/**
 * What a browser does for the portal's login page, and no more: one cookie jar (the session
 * cookie), the page's CSRF token, the script's JSON POSTs with the `x-csrf-token` header, form
 * POSTs with the hidden `_csrf` field, and redirects followed by hand so that every Set-Cookie on
 * the way is kept. Over real HTTP on keep-alive connections, as a browser and a load generator
 * keep theirs: node:http with one agent per load process, which costs the client far less than
 * fetch, so that the benchmark measures the portal rather than its clients.
 */
import { Agent, request } from 'node:http';

/** The load clients' connections to the portal, kept open between requests. */
const kAgent = new Agent({ keepAlive: true, maxSockets: 64 });

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(url: URL, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = request(
      url,
      { method: init.method, agent: kAgent, headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface PageAnswer {
  status: number;
  /** Where the last answer came from, after redirects. */
  url: string;
  body: string;
}

/** A portal answer the login did not expect: the step, the status and the portal's `{ code, message }`. */
export class PortalAnswerError extends Error {
  constructor(step: string, status: number, body: string) {
    super(`${step}: HTTP ${status} ${body.slice(0, 300)}`);
    this.name = 'PortalAnswerError';
  }
}

const kMaxRedirects = 5;

export class PortalBrowser {
  private readonly _cookies = new Map<string, string>();
  csrfToken = '';

  constructor(readonly baseUrl: string) {}

  /** Opens a page (following redirects); keeps its CSRF token when it has one. */
  async get(path: string): Promise<PageAnswer> {
    return this._send(path, { method: 'GET' });
  }

  /** The login script's `postJson`: JSON body, CSRF header; the answer must be 2xx JSON. */
  async postJson<T>(path: string, payload: unknown): Promise<T> {
    const answer = await this._send(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': this.csrfToken },
      body: JSON.stringify(payload),
    });
    if (answer.status < 200 || answer.status >= 300) throw new PortalAnswerError(`POST ${path}`, answer.status, answer.body);
    return JSON.parse(answer.body) as T;
  }

  /** A form submitted with its hidden `_csrf` field. */
  async postForm(path: string, fields: Record<string, string>): Promise<PageAnswer> {
    return this._send(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: this.csrfToken, ...fields }).toString(),
    });
  }

  private async _send(path: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<PageAnswer> {
    let url = new URL(path, this.baseUrl);
    let request = init;
    for (let hop = 0; ; hop++) {
      const response = await send(url, { ...request, headers: { ...request.headers, ...this.cookieHeader() } });
      const setCookie = response.headers['set-cookie'];
      this._keepCookies(Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []);
      const body = response.body;
      const location = typeof response.headers.location === 'string' ? response.headers.location : undefined;
      if (response.status >= 300 && response.status < 400 && location) {
        if (hop >= kMaxRedirects) throw new PortalAnswerError(`${init.method} ${path}`, response.status, `more than ${kMaxRedirects} redirects`);
        // 303 (and 301/302 after a POST, as browsers do) turns into a GET without a body.
        url = new URL(location, url);
        request = { method: 'GET' };
        continue;
      }
      if (String(response.headers['content-type'] ?? '').startsWith('text/html')) {
        const token = /<meta name="csrf-token" content="([^"]+)">|name="_csrf" value="([^"]+)"/.exec(body);
        if (token) this.csrfToken = token[1] ?? token[2]!;
      }
      return { status: response.status, url: url.pathname, body };
    }
  }

  /** The Cookie header this browser sends (empty when it holds no cookie). */
  cookieHeader(): Record<string, string> {
    if (this._cookies.size === 0) return {};
    return { cookie: [...this._cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  private _keepCookies(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const cleared =
        value === '' ||
        attributes.some((a) => {
          const [key = '', v = ''] = a.split('=').map((s) => s.trim());
          if (key.toLowerCase() === 'max-age') return Number(v) <= 0;
          if (key.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
          return false;
        });
      if (cleared) this._cookies.delete(name);
      else this._cookies.set(name, value);
    }
  }
}
