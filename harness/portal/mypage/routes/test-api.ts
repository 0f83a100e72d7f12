/** What the harness reads instead of a mailbox: every code sent. Registered only in test mode. */
import type { FastifyInstance } from 'fastify';
import type { MyPageContext } from '../context.js';

export async function testApiRoutes(app: FastifyInstance, { ctx }: { ctx: MyPageContext }): Promise<void> {
  app.get('/api/test/outbox', async (request) => {
    const to = (request.query as Record<string, unknown>).to;
    return { messages: ctx.outbox.messages.filter((m) => typeof to !== 'string' || m.to === to) };
  });
}
