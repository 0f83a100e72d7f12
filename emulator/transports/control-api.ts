/**
 * The control API of a served card, on loopback: what the harness (or a person with curl) uses to
 * look at the card and to act on it as a lab would — take it out, put it back, cut its power at a
 * chosen command, slow a command down. `buildControlApp` never listens; the serve command does.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { hexByte } from '../../iso7816/bytes.js';
import { kPinIds } from '../card/file-system.js';
import type { ServedCard, TearMoment } from './served-card.js';

/** What a transport offers the control API: the card's presence in the reader. */
export interface CardSlot {
  readonly state: string;
  readonly address: string;
  insert(): Promise<void>;
  /** Takes the card out; a transport that needs a round trip for it resolves when it is out. */
  remove(): void | Promise<void>;
}

export interface CardState {
  label: string;
  reader: { transport: string; address: string; state: string };
  powered: boolean;
  selectedAp: string | null;
  currentEf: string | null;
  verified: string[];
  tries: Record<string, { remaining: number; limit: number; blocked: boolean }>;
  latencyMs: Record<string, number>;
  pendingTear: { ins: string; when: TearMoment } | null;
  exchanges: number;
}

export function describeServedCard(served: ServedCard, slot: CardSlot, transport: string): CardState {
  const card = served.card;
  const image = card.store.image;
  const session = card.session;
  const tear = served.pendingTear;
  return {
    label: image.label,
    reader: { transport, address: slot.address, state: slot.state },
    powered: card.powered,
    selectedAp: session.applet ?? null,
    currentEf: session.currentEf === undefined ? null : session.currentEf.toString(16).toUpperCase().padStart(4, '0'),
    verified: session.verified,
    tries: Object.fromEntries(
      kPinIds.map((id) => [id, { remaining: image.pins[id].remaining, limit: image.pins[id].limit, blocked: image.pins[id].remaining === 0 }]),
    ),
    latencyMs: served.latency,
    pendingTear: tear ? { ins: hexByte(tear.ins), when: tear.when } : null,
    exchanges: served.exchanges,
  };
}

const kInsSchema = { type: 'string', pattern: '^[0-9A-Fa-f]{2}$', description: 'INS byte in hex, e.g. "2A"' } as const;

export function buildControlApp(served: ServedCard, slot: CardSlot, transport: string): FastifyInstance {
  const app = Fastify({ logger: false });
  const state = (): CardState => describeServedCard(served, slot, transport);

  app.get('/state', async () => state());

  app.post('/remove', async () => {
    await slot.remove();
    return state();
  });

  app.post('/insert', async () => {
    await slot.insert();
    return state();
  });

  app.post<{ Body: { ins: string; when: TearMoment } }>(
    '/tear',
    {
      schema: {
        body: {
          type: 'object',
          required: ['ins', 'when'],
          additionalProperties: false,
          properties: { ins: kInsSchema, when: { type: 'string', enum: ['before', 'after'] } },
        },
      },
    },
    async (request) => {
      served.armTear({ ins: parseInt(request.body.ins, 16), when: request.body.when });
      return state();
    },
  );

  app.delete('/tear', async () => {
    served.armTear(undefined);
    return state();
  });

  app.post<{ Body: { ins: string; ms: number } }>(
    '/latency',
    {
      schema: {
        body: {
          type: 'object',
          required: ['ins', 'ms'],
          additionalProperties: false,
          properties: { ins: kInsSchema, ms: { type: 'integer', minimum: 0, maximum: 600000 } },
        },
      },
    },
    async (request) => {
      served.setLatency(parseInt(request.body.ins, 16), request.body.ms);
      return state();
    },
  );

  return app;
}
