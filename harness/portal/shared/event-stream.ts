/**
 * Server-sent events for a hand-off the page waits on (a QR login, a signing session): the stream
 * opens with the state as it is, sends each event as it happens, ends on a final one or when the
 * session expires, keeps idle proxies from closing it, and lets go of its slot when the page leaves.
 * The portal's streams are tracked so that stopping the portal ends them instead of waiting on them.
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** A comment line now and then keeps proxies and browsers from dropping a quiet stream. */
const kHeartbeatMs = 15_000;

export interface HandOffEvent {
  type: string;
}

export interface EventStreamSpec<E extends HandOffEvent> {
  /** Starts listening; returns the function that stops. */
  subscribe(listener: (event: E) => void): () => void;
  /** The final event, when the hand-off has already ended (read after subscribing, so nothing is missed). */
  ended(): E | undefined;
  /** Whether an event ends the stream. */
  isFinal(event: E): boolean;
  /** What the page hears first while the hand-off is open. */
  waiting: E;
  /** When the hand-off expires (milliseconds since the epoch, on the portal's clock). */
  expiresAtMs: number;
  now(): number;
  /** What the page hears at expiry: the final event if one came in between, else an expiry. */
  atExpiry(): E;
  /** Gives back the stream's slot in the per-session and total limits. */
  release(): void;
}

/** The open streams of one plugin: `preClose` ends them when the portal stops. */
export function trackEventStreams(app: FastifyInstance): Set<() => void> {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });
  return open;
}

export function sendEventStream<E extends HandOffEvent>(reply: FastifyReply, open: Set<() => void>, spec: EventStreamSpec<E>): FastifyReply {
  const stream = new PassThrough();
  const write = (event: E): void => {
    const { type, ...data } = event;
    stream.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  let closed = false;
  let expiryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => undefined;
  const close = (): void => {
    if (closed) return;
    closed = true;
    spec.release();
    unsubscribe();
    clearTimeout(expiryTimer);
    clearInterval(heartbeat);
    open.delete(close);
    stream.end();
  };
  // Subscribe before reading the state: nothing can happen between the two (the stores are
  // synchronous), so the page hears every outcome exactly once, live or from the database.
  unsubscribe = spec.subscribe((event) => {
    if (closed) return;
    write(event);
    if (spec.isFinal(event)) close();
  });
  const ended = spec.ended();
  if (ended) {
    write(ended);
    close();
  } else {
    write(spec.waiting);
    open.add(close);
    expiryTimer = setTimeout(() => {
      if (!closed) write(spec.atExpiry());
      close();
    }, Math.max(0, spec.expiresAtMs - spec.now()));
    heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), kHeartbeatMs);
    reply.raw.on('close', close);
  }
  return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream);
}
