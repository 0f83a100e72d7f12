/**
 * A WebSocket client for the PC agent tests, standing in for the portal's login page: it sends
 * requests and hands back the answer with the same id, as the page's script matches them.
 */
import { WebSocket } from 'ws';

export type Answer = Record<string, unknown>;

export class AgentTestClient {
  /** Answers that carried no usable id (id: null), in arrival order. */
  readonly anonymous: Answer[] = [];
  /** Every answer, in arrival order. */
  readonly received: Answer[] = [];
  private readonly _waiting = new Map<unknown, (answer: Answer) => void>();
  private readonly _anonymousWaiters: Array<(answer: Answer) => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const answer = JSON.parse(String(data)) as Answer;
      this.received.push(answer);
      if (answer.id === null) {
        const waiter = this._anonymousWaiters.shift();
        if (waiter) waiter(answer);
        else this.anonymous.push(answer);
        return;
      }
      const waiter = this._waiting.get(answer.id);
      this._waiting.delete(answer.id);
      waiter?.(answer);
    });
  }

  /** Connects as a page from `origin` (no Origin header without it, as a non-browser client). */
  static open(url: string, origin?: string): Promise<AgentTestClient> {
    const socket = new WebSocket(url, origin === undefined ? {} : { origin });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new AgentTestClient(socket)));
      socket.once('unexpected-response', (_req, res) => reject(new RefusedError(res.statusCode ?? 0)));
      socket.once('error', reject);
    });
  }

  /** Sends a request and resolves with the answer carrying its id. */
  request(body: Record<string, unknown>): Promise<Answer> {
    const answer = new Promise<Answer>((resolve) => this._waiting.set(body.id, resolve));
    this.socket.send(JSON.stringify(body));
    return answer;
  }

  /** Sends anything, and resolves with the next answer that has no id. */
  sendRaw(data: string | Buffer, binary = false): Promise<Answer> {
    const queued = this.anonymous.shift();
    const answer = queued ? Promise.resolve(queued) : new Promise<Answer>((resolve) => this._anonymousWaiters.push(resolve));
    this.socket.send(data, { binary });
    return answer;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** The agent refused the handshake with this HTTP status. */
export class RefusedError extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
    this.name = 'RefusedError';
  }
}
