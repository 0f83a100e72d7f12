/**
 * The PC agent: the stand-in for the client software a portal's login page talks to (as Mynaportal
 * needs the JPKI client software). A WebSocket server on loopback that signs the portal's nonce
 * with the card's authentication key and reads the card-info files, speaking the protocol of
 * docs/portal-protocols.md ("The PC agent (WebSocket)").
 *
 * What it guards, and why:
 * - Only loopback peers, and only pages from allowed origins: a web page from elsewhere must not be
 *   able to drive the card (browsers let any page open a WebSocket to 127.0.0.1, with its Origin).
 * - One card request at a time, across every connection: the card is one device, and two
 *   interleaved APDU sequences would select each other's files.
 * - A connection to the card per request, ended with a reset, so that no verified PIN outlives the
 *   request that verified it.
 * - Every request gets exactly one answer with its id; a malformed one gets BAD_REQUEST and the
 *   agent keeps serving.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { toBase64 } from '../../../iso7816/bytes.js';
import { CardCommandError, PinError } from '../../jpki/jpki-client.js';
import { ReaderError, type CardConnection, type Reader } from '../../readers/reader.js';
import {
  cardActionMessage,
  CardActionError,
  describeCardActionError,
  pinTriesLeft,
  readCardInfo,
  signNonceWithAuthKey,
  toCardActionError,
  type AgentPin,
  type CardActionCode,
} from '../card-actions.js';
import { parseStrictBase64 } from '../strict-base64.js';

/** The port of the doc, which portals render into their pages unless configured otherwise. */
export const kDefaultPcAgentPort = 24680;
/** How long a request waits for a card before answering NO_CARD: long enough for a card being put down. */
const kDefaultCardWaitMs = 2000;
/** Requests are a few hundred bytes; anything far larger is not one of ours. */
const kMaxMessageBytes = 64 * 1024;
/** The doc's nonce is 32 bytes; a page may pass on whatever its portal gave, within reason. */
const kMaxNonceBytes = 1024;
const kMaxIdLength = 256;

/** What the agent asks its host (the runner, or a person at `jpki-hil agent pc`) for. */
export interface PinRequest {
  pin: AgentPin;
  purpose: 'login' | 'card-info';
  /** Tries the card has left for this PIN, when the card says. */
  triesLeft?: number;
  /** True when the card refused the last PIN given for this one (say so in the prompt). */
  retry: boolean;
}

/** Resolves with the PIN, or null when the person (or scenario) cancels. */
export type AskPin = (request: PinRequest) => Promise<string | null>;

export type RequestId = string | number;

export type PcAgentCode = CardActionCode | 'BAD_REQUEST';

export type PcAgentAnswer =
  | { id: RequestId; ok: true; reader: string; cardPresent: boolean }
  | { id: RequestId; ok: true; signature: string; certificate: string }
  | { id: RequestId; ok: true; basic4: string; basic4Signature: string }
  /** id is null only when the request had no usable id (not JSON, or no id in it). */
  | { id: RequestId | null; ok: false; code: PcAgentCode; message: string; triesLeft?: number };

export type PcAgentRequest =
  | { id: RequestId; type: 'status' }
  | { id: RequestId; type: 'sign'; nonce: Uint8Array; purpose: 'login' }
  | { id: RequestId; type: 'readCardInfo' };

/** For the runner's logs; listeners that throw are logged, never allowed to break the agent. */
export interface PcAgentEvents {
  /** A WebSocket connection was accepted. */
  connection: [event: { connection: number; origin?: string; remoteAddress?: string }];
  /** A handshake was refused (not loopback, origin not allowed, wrong path). */
  refused: [event: { origin?: string; remoteAddress?: string; reason: string }];
  /** A message arrived; `type` is null when it was not a request at all. */
  request: [event: { connection: number; id: RequestId | null; type: string | null }];
  /** An answer went out (or could not: `delivered` is false when the page had gone). */
  answer: [event: { connection: number; answer: PcAgentAnswer; ms: number; delivered: boolean }];
}

export interface PcAgentOptions {
  /** The reader, or a way to open one: opened at the first request, and again after it is lost. */
  reader: Reader | (() => Promise<Reader>);
  /** A loopback address; default 127.0.0.1. */
  host?: string;
  /** Default 24680; 0 picks a free port. */
  port?: number;
  askPin: AskPin;
  /**
   * Origins (scheme://host:port) whose pages may connect. Without it, pages from loopback origins
   * (127.0.0.0/8, localhost, [::1], any port) may; clients that send no Origin (not browsers) always may.
   */
  allowedOrigins?: string[];
  /** How long a request waits for a card to be put in the reader before NO_CARD. */
  cardWaitMs?: number;
  log?: (line: string) => void;
}

export interface PcAgent {
  /** ws://host:port/ — what the portal renders into its pages. */
  url: string;
  port: number;
  /** Closes every connection and the server; a reader opened through a factory is closed too. */
  close(): Promise<void>;
  events: EventEmitter<PcAgentEvents>;
}

export async function startPcAgent(options: PcAgentOptions): Promise<PcAgent> {
  const agent = new PcAgentServer(options);
  return agent.start(options.port ?? kDefaultPcAgentPort);
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (what a dual-stack socket reports). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address === '::1') return true;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || isLoopbackAddress(hostname);
}

/** Decides on the Origin header of a handshake: true lets the page in. */
export function originPolicy(allowedOrigins: readonly string[] | undefined): (origin: string | undefined) => boolean {
  if (allowedOrigins === undefined) {
    return (origin) => {
      if (origin === undefined) return true;
      const url = parseOrigin(origin);
      return url !== undefined && isLoopbackHostname(url.hostname);
    };
  }
  const allowed = new Set(
    allowedOrigins.map((entry) => {
      const url = parseOrigin(entry);
      if (!url) throw new TypeError(`allowed origin "${entry}" is not an http(s) origin like http://127.0.0.1:8443`);
      return url.origin;
    }),
  );
  return (origin) => {
    if (origin === undefined) return true;
    const url = parseOrigin(origin);
    return url !== undefined && allowed.has(url.origin);
  };
}

/** An http(s) origin, or undefined ("null" origins from sandboxed or file pages, other schemes). */
function parseOrigin(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

interface Session {
  readonly id: number;
  readonly socket: WebSocket;
  /** The auth PIN the card accepted in this session: tried first for the card-info PIN, as the doc says. */
  authPin?: string;
  /** PINs the card refused last in this session, so that the next prompt says "again". */
  readonly refused: Set<AgentPin>;
}

type Parsed = { ok: true; request: PcAgentRequest } | { ok: false; id: RequestId | null; type: string | null; why: string };

class PcAgentServer {
  readonly events = new EventEmitter<PcAgentEvents>();
  private readonly _log: (line: string) => void;
  private readonly _originAllowed: (origin: string | undefined) => boolean;
  private readonly _cardWaitMs: number;
  private readonly _host: string;
  private readonly _http: Server;
  private readonly _wss: WebSocketServer;
  private readonly _sessions = new Set<Session>();
  private _nextSession = 1;
  /** The tail of the one-at-a-time queue of card requests. */
  private _tail: Promise<void> = Promise.resolve();
  private _opening: Promise<Reader> | undefined;
  private _watched: { reader: Reader; onRemoved: () => void } | undefined;
  private _closed = false;

  constructor(private readonly _options: PcAgentOptions) {
    this._log = _options.log ?? (() => undefined);
    this._originAllowed = originPolicy(_options.allowedOrigins);
    this._cardWaitMs = _options.cardWaitMs ?? kDefaultCardWaitMs;
    this._host = _options.host ?? '127.0.0.1';
    if (!isLoopbackHostname(this._host === '::1' ? '[::1]' : this._host)) {
      throw new TypeError(`the PC agent listens on loopback only (127.0.0.1, ::1 or localhost), not on "${this._host}"`);
    }
    this._wss = new WebSocketServer({ noServer: true, maxPayload: kMaxMessageBytes });
    this._http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'close' });
      res.end('jpki-hil PC agent: connect with a WebSocket (see docs/portal-protocols.md)\n');
    });
    this._http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this._upgrade(req, socket, head));
    if (typeof _options.reader !== 'function') this._watch(_options.reader);
  }

  async start(port: number): Promise<PcAgent> {
    await new Promise<void>((resolve, reject) => {
      this._http.once('error', reject);
      this._http.listen(port, this._host, () => {
        this._http.off('error', reject);
        resolve();
      });
    });
    this._http.on('error', (e) => this._log(`server error: ${e.message}`));
    const address = this._http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `ws://${host}:${address.port}/`;
    this._log(`listening on ${url}`);
    return { url, port: address.port, close: () => this._close(), events: this.events };
  }

  // ---------------------------------------------------------------------------------------------
  // Connections

  private _upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (e) => this._log(`handshake socket error: ${e.message}`));
    const remoteAddress = req.socket.remoteAddress;
    const origin = req.headers.origin;
    const path = pathOf(req.url);
    const refusal = this._closed
      ? { status: 503, reason: 'the agent is closing' }
      : !isLoopbackAddress(remoteAddress)
        ? { status: 403, reason: `peer ${remoteAddress ?? '?'} is not on loopback` }
        : !this._originAllowed(origin)
          ? { status: 403, reason: `origin ${origin ?? '?'} is not allowed` }
          : path !== '/'
            ? { status: 404, reason: `no WebSocket at ${path ?? req.url ?? '?'}; the agent answers at /` }
            : undefined;
    if (refusal) {
      this._log(`refused a connection: ${refusal.reason}`);
      this._emit('refused', { origin, remoteAddress, reason: refusal.reason });
      const body = `${refusal.reason}\n`;
      const text = refusal.status === 403 ? 'Forbidden' : refusal.status === 404 ? 'Not Found' : 'Service Unavailable';
      socket.end(
        `HTTP/1.1 ${refusal.status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    this._wss.handleUpgrade(req, socket, head, (ws) => this._accept(ws, origin, remoteAddress));
  }

  private _accept(socket: WebSocket, origin: string | undefined, remoteAddress: string | undefined): void {
    const session: Session = { id: this._nextSession++, socket, refused: new Set() };
    this._sessions.add(session);
    this._log(`connection ${session.id} from ${origin ?? 'a client without Origin'}`);
    this._emit('connection', { connection: session.id, origin, remoteAddress });
    socket.on('message', (data: RawData, isBinary: boolean) => this._onMessage(session, data, isBinary));
    socket.on('error', (e) => this._log(`connection ${session.id}: ${e.message}`));
    socket.on('close', () => {
      // The remembered PIN dies with the page's connection.
      session.authPin = undefined;
      this._sessions.delete(session);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  private _onMessage(session: Session, data: RawData, isBinary: boolean): void {
    const received = Date.now();
    const parsed = isBinary ? ({ ok: false, id: null, type: null, why: 'binary frames are not requests; send JSON text' } as const) : parseRequest(rawText(data));
    const id = parsed.ok ? parsed.request.id : parsed.id;
    this._emit('request', { connection: session.id, id, type: parsed.ok ? parsed.request.type : parsed.type });
    if (!parsed.ok) {
      this._log(`connection ${session.id}: bad request${id === null ? '' : ` ${String(id)}`}: ${parsed.why}`);
      this._answer(session, received, { id, ok: false, code: 'BAD_REQUEST', message: `要求の形式が正しくありません (${parsed.why})` });
      return;
    }
    const request = parsed.request;
    if (request.type === 'status') {
      // Not queued: it does not talk to the card, and a page polling it must not wait behind a PIN prompt.
      void this._status(request.id).then((answer) => this._answer(session, received, answer));
      return;
    }
    this._enqueue(async () => {
      if (session.socket.readyState !== WebSocket.OPEN) {
        // Nobody is left to answer: do not ask anyone for a PIN on behalf of a page that has gone.
        this._log(`connection ${session.id}: request ${String(request.id)} dropped, the page disconnected before its turn`);
        return;
      }
      this._answer(session, received, await this._cardRequest(session, request));
    });
  }

  private _enqueue(task: () => Promise<void>): void {
    this._tail = this._tail.then(task).catch((e: unknown) => this._log(`internal error: ${(e as Error).stack ?? String(e)}`));
  }

  private async _status(id: RequestId): Promise<PcAgentAnswer> {
    try {
      const reader = await this._reader();
      return { id, ok: true, reader: reader.name, cardPresent: reader.cardPresent() };
    } catch (e) {
      return this._failure(id, e);
    }
  }

  private async _cardRequest(session: Session, request: Exclude<PcAgentRequest, { type: 'status' }>): Promise<PcAgentAnswer> {
    try {
      if (request.type === 'sign') {
        const signed = await this._withCard((connection) => this._sign(session, connection, request.nonce));
        return { id: request.id, ok: true, signature: toBase64(signed.signature), certificate: toBase64(signed.certificate) };
      }
      const files = await this._withCard((connection) => this._readCardInfo(session, connection));
      return { id: request.id, ok: true, basic4: toBase64(files.basic4), basic4Signature: toBase64(files.basic4Signature) };
    } catch (e) {
      return this._failure(request.id, e);
    }
  }

  private async _sign(session: Session, connection: CardConnection, nonce: Uint8Array): ReturnType<typeof signNonceWithAuthKey> {
    const triesLeft = await pinTriesLeft(connection, 'auth');
    if (triesLeft === 0) throw new CardActionError('PIN_BLOCKED', cardActionMessage('PIN_BLOCKED'));
    const pin = await this._askPin({ pin: 'auth', purpose: 'login', ...(triesLeft === undefined ? {} : { triesLeft }), retry: session.refused.has('auth') });
    try {
      const signed = await signNonceWithAuthKey(connection, pin, nonce);
      session.authPin = pin;
      session.refused.delete('auth');
      return signed;
    } catch (e) {
      if (e instanceof PinError) {
        session.authPin = undefined;
        session.refused.add('auth');
      }
      throw e;
    }
  }

  private async _readCardInfo(session: Session, connection: CardConnection): ReturnType<typeof readCardInfo> {
    let triesLeft = await pinTriesLeft(connection, 'kenhojo');
    if (triesLeft === 0) throw new CardActionError('PIN_BLOCKED', cardActionMessage('PIN_BLOCKED'));
    let retry = session.refused.has('kenhojo');
    const remembered = session.authPin;
    // The same 4-digit PIN first, as the real client software does — but never when a refusal
    // would block the card-info PIN: a guess must not cost the last try.
    if (remembered !== undefined && (triesLeft === undefined || triesLeft > 1)) {
      try {
        return await this._readWith(session, connection, remembered);
      } catch (e) {
        if (!(e instanceof PinError) || e.blocked) throw e;
        this._log(`the card refused the auth PIN as the card-info PIN (${e.triesLeft} tries left); asking for it`);
        triesLeft = e.triesLeft;
        retry = true;
      }
    }
    const pin = await this._askPin({ pin: 'kenhojo', purpose: 'card-info', ...(triesLeft === undefined ? {} : { triesLeft }), retry });
    return this._readWith(session, connection, pin);
  }

  private async _readWith(session: Session, connection: CardConnection, pin: string): ReturnType<typeof readCardInfo> {
    try {
      const files = await readCardInfo(connection, pin);
      session.refused.delete('kenhojo');
      return files;
    } catch (e) {
      if (e instanceof PinError) session.refused.add('kenhojo');
      throw e;
    }
  }

  /** The host's PIN, or CANCELLED: null, an empty PIN (an empty VERIFY would only ask for tries left) or a failing host. */
  private async _askPin(request: PinRequest): Promise<string> {
    let pin: string | null;
    try {
      pin = await this._options.askPin(request);
    } catch (e) {
      this._log(`asking for the ${request.pin} PIN failed: ${(e as Error).message}`);
      throw new CardActionError('CANCELLED', cardActionMessage('CANCELLED'), undefined, { cause: e });
    }
    if (typeof pin !== 'string' || pin.length === 0) throw new CardActionError('CANCELLED', cardActionMessage('CANCELLED'));
    return pin;
  }

  /** Waits briefly for a card, connects, works, and disconnects with a reset whatever happened. */
  private async _withCard<T>(work: (connection: CardConnection) => Promise<T>): Promise<T> {
    const reader = await this._reader();
    await reader.waitForCard(this._cardWaitMs);
    const connection = await reader.connect();
    try {
      return await work(connection);
    } finally {
      await connection.disconnect('reset').catch((e: unknown) => this._log(`disconnect: ${(e as Error).message}`));
    }
  }

  private _failure(id: RequestId, error: unknown): PcAgentAnswer {
    const failure = toCardActionError(error);
    this._log(`request ${String(id)}: ${describeCardActionError(failure)}`);
    const cause = failure.cause;
    if (failure.code === 'CARD_ERROR' && cause instanceof Error && !(cause instanceof CardCommandError) && !(cause instanceof ReaderError)) {
      // Not a card's or reader's refusal: a bug worth its stack in the log.
      this._log(cause.stack ?? cause.message);
    }
    if (failure.code === 'NO_READER') this._forgetReader();
    return { id, ok: false, code: failure.code, message: failure.message, ...(failure.triesLeft === undefined ? {} : { triesLeft: failure.triesLeft }) };
  }

  private _answer(session: Session, received: number, answer: PcAgentAnswer): void {
    const delivered = session.socket.readyState === WebSocket.OPEN;
    if (delivered) session.socket.send(JSON.stringify(answer));
    this._emit('answer', { connection: session.id, answer, ms: Date.now() - received, delivered });
  }

  // ---------------------------------------------------------------------------------------------
  // The reader

  private async _reader(): Promise<Reader> {
    const source = this._options.reader;
    if (typeof source !== 'function') return source;
    if (this._opening === undefined) {
      const opening = source().then((reader) => {
        this._watch(reader);
        return reader;
      });
      this._opening = opening;
      // A failed open is forgotten, so that the next request tries again (the reader may be plugged in by then).
      opening.catch(() => {
        if (this._opening === opening) this._opening = undefined;
      });
    }
    try {
      return await this._opening;
    } catch (e) {
      throw e instanceof CardActionError ? e : new CardActionError('NO_READER', cardActionMessage('NO_READER'), undefined, { cause: e });
    }
  }

  /** A removed card takes the remembered PINs with it: the next card may be someone else's. */
  private _watch(reader: Reader): void {
    const onRemoved = (): void => {
      for (const session of this._sessions) session.authPin = undefined;
    };
    reader.on('removed', onRemoved);
    this._watched = { reader, onRemoved };
  }

  private _unwatch(): void {
    if (this._watched) this._watched.reader.off('removed', this._watched.onRemoved);
    this._watched = undefined;
  }

  /** After NO_READER, a reader from a factory is dropped and opened again by the next request. */
  private _forgetReader(): void {
    const opening = this._opening;
    if (opening === undefined) return;
    this._opening = undefined;
    this._unwatch();
    void opening.then((reader) => reader.close()).catch(() => undefined);
  }

  private async _close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    for (const session of this._sessions) session.socket.terminate();
    await new Promise<void>((resolve) => this._wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this._http.close(() => resolve());
      this._http.closeAllConnections();
    });
    this._unwatch();
    const opening = this._opening;
    this._opening = undefined;
    if (opening) await opening.then((reader) => reader.close()).catch(() => undefined);
    this._log('closed');
  }

  private _emit<K extends keyof PcAgentEvents>(event: K, ...args: PcAgentEvents[K]): void {
    try {
      (this.events.emit as (event: K, ...args: PcAgentEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this._log(`a "${event}" listener threw: ${(e as Error).stack ?? String(e)}`);
    }
  }
}

/** The path of a request target; undefined for one that is not a URL path (refused, never thrown). */
function pathOf(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? '/', 'ws://agent').pathname;
  } catch {
    return undefined;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function validId(value: unknown): RequestId | null {
  if (typeof value === 'string' && value.length > 0 && value.length <= kMaxIdLength) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return null;
}

/** Checks one message against the doc's request shapes; extra fields are ignored, as client software would. */
export function parseRequest(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: null, type: null, why: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, id: null, type: null, why: 'not a JSON object' };
  const fields = value as Record<string, unknown>;
  const id = validId(fields.id);
  const type = typeof fields.type === 'string' ? fields.type : null;
  const bad = (why: string): Parsed => ({ ok: false, id, type, why });
  if (id === null) return bad(`"id" must be a non-empty string (at most ${kMaxIdLength} characters) or a number`);
  switch (type) {
    case 'status':
      return { ok: true, request: { id, type } };
    case 'readCardInfo':
      return { ok: true, request: { id, type } };
    case 'sign': {
      if (fields.purpose !== 'login') return bad('"purpose" must be "login"');
      const nonce = parseStrictBase64(fields.nonce);
      if (nonce === undefined) return bad('"nonce" must be padded base64');
      if (nonce.length === 0 || nonce.length > kMaxNonceBytes) return bad(`"nonce" must be 1 to ${kMaxNonceBytes} bytes`);
      return { ok: true, request: { id, type, nonce, purpose: 'login' } };
    }
    default:
      return bad(`"type" must be "status", "sign" or "readCardInfo"`);
  }
}
