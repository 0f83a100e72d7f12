/**
 * What the harness reads instead of a phone's SMS inbox and a mailbox: every code the portal sent.
 * Registered only in test mode; otherwise the path is a plain 404.
 */
import type { FastifyInstance } from 'fastify';
import type { CitizenContext } from '../context.js';

export async function testApiRoutes(app: FastifyInstance, { ctx }: { ctx: CitizenContext }): Promise<void> {
  app.get('/api/test/outbox', async (request) => {
    const query = request.query as Record<string, unknown>;
    const to = typeof query.to === 'string' ? query.to : undefined;
    const channel = typeof query.channel === 'string' ? query.channel : undefined;
    return { messages: ctx.outbox.messages.filter((m) => (to === undefined || m.to === to) && (channel === undefined || m.channel === channel)) };
  });
}
