/**
 * A browser over real HTTP for the attack tests: one cookie jar per origin it talks to, the CSRF
 * token of the last page it loaded, redirects returned rather than followed.
 */
export interface HttpAnswer {
  status: number;
  text: string;
  location: string | null;
  headers: Headers;
}

export class HttpBrowser {
  readonly jar = new Map<string, string>();
  csrfToken = '';
  constructor(readonly base: string) {}

  private _keep(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Takes over another browser's cookies and token: a planted session. */
  plant(from: HttpBrowser): void {
    for (const [k, v] of from.jar) this.jar.set(k, v);
    this.csrfToken = from.csrfToken;
  }

  async request(method: string, path: string, body?: { json?: unknown; form?: Record<string, string> }, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const sent: Record<string, string> = { cookie: this.cookie, ...headers };
    const init: RequestInit = { method, redirect: 'manual', headers: sent };
    if (body?.json !== undefined) {
      init.body = JSON.stringify(body.json);
      sent['content-type'] = 'application/json';
      sent['x-csrf-token'] ??= this.csrfToken;
    } else if (body?.form) {
      init.body = new URLSearchParams({ _csrf: this.csrfToken, ...body.form }).toString();
      sent['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(/^https?:/.test(path) ? path : `${this.base}${path}`, init);
    this._keep(response);
    const text = await response.text();
    const token = /<meta name="csrf-token" content="([^"]+)">|name="_csrf" value="([^"]+)"/.exec(text);
    if (token && response.headers.get('content-type')?.startsWith('text/html')) this.csrfToken = token[1] ?? token[2]!;
    return { status: response.status, text, location: response.headers.get('location'), headers: response.headers };
  }

  /** Loads `page` (for its CSRF token) and posts the form `fields` to `action`. */
  async submit(page: string, action: string, fields: Record<string, string> = {}): Promise<HttpAnswer> {
    await this.request('GET', page);
    return this.request('POST', action, { form: fields });
  }
}
