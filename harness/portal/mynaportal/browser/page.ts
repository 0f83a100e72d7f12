/**
 * What every Mynaportal page script shares: the page's data and elements, the status and error
 * lines, JSON calls to the portal with the CSRF token, and the PC agent's WebSocket
 * (docs/portal-protocols.md, "PC agent"). Runs in the browser as an ES module.
 */

/** A failure with a stable code: reported by the PC agent or answered by the portal. */
export class Failure extends Error {
  constructor(
    readonly source: 'agent' | 'portal',
    readonly code: string,
    message = '',
    readonly triesLeft?: number,
  ) {
    super(message);
  }
}

export function meta(name: string): string {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
}

export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T | null {
  return document.querySelector<T>(`[data-testid="${id}"]`);
}

/** An element the page always has; a missing one is a bug in the page, said plainly. */
export function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = byTestId<T>(id);
  if (!found) throw new Error(`the page has no element with data-testid="${id}"`);
  return found;
}

/** The JSON the server put in `<script type="application/json" id="…">`. */
export function pageData<T>(id: string): T {
  const script = document.getElementById(id);
  if (!script) throw new Error(`the page has no data block #${id}`);
  return JSON.parse(script.textContent ?? '') as T;
}

/** The status line and the error line (`data-code` carries the failure's code for scenarios). */
export function statusLines(statusId: string, errorId: string): { setStatus(text?: string): void; clearError(): void; showError(code: string, text: string): void } {
  const statusEl = element(statusId);
  const errorEl = element(errorId);
  const setStatus = (text?: string): void => {
    statusEl.textContent = text ?? '';
  };
  return {
    setStatus,
    clearError() {
      errorEl.hidden = true;
      errorEl.textContent = '';
      errorEl.removeAttribute('data-code');
    },
    showError(code, text) {
      setStatus('');
      errorEl.textContent = text;
      errorEl.setAttribute('data-code', code);
      errorEl.hidden = false;
    },
  };
}

/** The agent's message for a code, or the page's fallback with the code in brackets. */
export function agentText(messages: { readonly agent: Readonly<Record<string, string>>; readonly unknownAgent: string }, code: string): string {
  return Object.hasOwn(messages.agent, code) ? (messages.agent[code] as string) : `${messages.unknownAgent}（${code}）`;
}

/** "有効期限: 14:05" for an ISO time. */
export function expiresText(iso: string): string {
  return `有効期限: ${new Date(iso).toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' })}`;
}

/**
 * POST a JSON body with the page's CSRF token. A refusal becomes a portal Failure with the portal's
 * code and message (`unexpected` when it gave none); a network failure, code NETWORK.
 */
export async function postJson<T>(url: string, body: unknown, unexpected: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': meta('csrf-token') },
      body: JSON.stringify(body),
    });
  } catch {
    throw new Failure('portal', 'NETWORK', unexpected);
  }
  const json = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) throw new Failure('portal', json.code || `HTTP_${response.status}`, json.message || unexpected);
  return json as T;
}

interface AgentAnswer {
  readonly id?: string;
  readonly ok?: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly triesLeft?: number;
  readonly [key: string]: unknown;
}

export interface AgentConnection {
  request<T>(message: { type: string; [key: string]: unknown }): Promise<T>;
  close(): void;
}

/**
 * The PC agent: one WebSocket, requests matched to answers by id. An agent that does not answer
 * within 5 s, or goes away mid-request, is AGENT_UNREACHABLE; a refused request carries the agent's
 * code (CARD_ERROR when it gave none), message and tries left.
 */
export function connectAgent(url: string): Promise<AgentConnection> {
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch {
      reject(new Failure('agent', 'AGENT_UNREACHABLE'));
      return;
    }
    const pending = new Map<string, { resolve(answer: AgentAnswer): void; reject(error: Failure): void }>();
    let nextId = 1;
    let opened = false;
    const timer = setTimeout(() => {
      if (!opened) {
        socket.close();
        reject(new Failure('agent', 'AGENT_UNREACHABLE'));
      }
    }, 5000);
    socket.onopen = () => {
      opened = true;
      clearTimeout(timer);
      resolve({
        request<T>(message: { type: string; [key: string]: unknown }): Promise<T> {
          const id = `p${nextId++}`;
          return new Promise<T>((res, rej) => {
            pending.set(id, { resolve: (answer) => res(answer as T), reject: rej });
            socket.send(JSON.stringify({ ...message, id }));
          });
        },
        close: () => socket.close(),
      });
    };
    socket.onmessage = (event: MessageEvent<string>) => {
      let answer: AgentAnswer;
      try {
        answer = JSON.parse(event.data) as AgentAnswer;
      } catch {
        return;
      }
      const waiter = answer.id === undefined ? undefined : pending.get(answer.id);
      if (!waiter || answer.id === undefined) return;
      pending.delete(answer.id);
      if (answer.ok) waiter.resolve(answer);
      else waiter.reject(new Failure('agent', answer.code || 'CARD_ERROR', answer.message, answer.triesLeft));
    };
    socket.onclose = () => {
      clearTimeout(timer);
      if (!opened) reject(new Failure('agent', 'AGENT_UNREACHABLE'));
      // The agent went away mid-request: nothing more will answer.
      for (const waiter of pending.values()) waiter.reject(new Failure('agent', 'AGENT_UNREACHABLE'));
      pending.clear();
    };
    socket.onerror = () => {
      // onclose follows and reports.
    };
  });
}

/**
 * Follow a portal session's server-sent events until one of `finalEvents` arrives or the stream is
 * refused for good (EventSource retries by itself; only a 403 or 404 closes it): `on` gets each
 * event's name and data, `refused` the end of a stream nobody closed.
 */
export function followEvents(url: string, names: readonly string[], on: (name: string, data: Record<string, string>, events: EventSource) => void, refused: () => void): EventSource {
  const events = new EventSource(url);
  for (const name of names) {
    events.addEventListener(name, (event: MessageEvent<string>) => on(name, event.data ? (JSON.parse(event.data) as Record<string, string>) : {}, events));
  }
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) refused();
  };
  return events;
}
