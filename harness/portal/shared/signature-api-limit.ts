/**
 * The per-address limit on an API that checks card signatures (the IdP's app API, My Page's xID
 * API): its routes in a scope of their own, so the limit covers them and nothing else.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';

export interface ApiRateLimit {
  max: number;
  timeWindowMs: number;
}

/** 60 requests a minute from one address. */
export const kDefaultSignatureApiLimit: ApiRateLimit = { max: 60, timeWindowMs: 60_000 };

/**
 * Registers `routes` behind `limit` (false: no limit, for the runner and benchmarks); an address
 * over it gets the error `tooMany` makes, in the portal's own error shape.
 */
export async function registerLimitedApi(app: FastifyInstance, limit: ApiRateLimit | false, tooMany: (message: string) => Error, routes: (api: FastifyInstance) => Promise<void>): Promise<void> {
  await app.register(async (api) => {
    if (limit) {
      await api.register(rateLimit, {
        global: true,
        max: limit.max,
        timeWindow: limit.timeWindowMs,
        errorResponseBuilder: (_request, context) => tooMany(`more than ${context.max} requests in ${context.after}`),
      });
    }
    await routes(api);
  });
}
