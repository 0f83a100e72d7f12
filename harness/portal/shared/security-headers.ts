/**
 * The headers every portal answer carries: no MIME sniffing, no referrer, and on HTML the portal's
 * Content-Security-Policy (asked for each answer where it depends on what is known only later).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface SecurityHeadersOptions {
  contentSecurityPolicy: string | (() => string);
}

async function securityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): Promise<void> {
  const { contentSecurityPolicy: csp } = options;
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', typeof csp === 'function' ? csp() : csp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });
}

export const securityHeadersPlugin = fp(securityHeaders, { name: 'security-headers' });
