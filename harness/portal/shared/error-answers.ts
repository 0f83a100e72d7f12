/**
 * The one error handler of every portal: a registry error thrown anywhere in a request becomes its
 * status with `{ code, message }` under /api/ (the detail in test mode) and the portal's error page
 * elsewhere; fastify's own refusals and unknown addresses become the registry's codes, and any other
 * exception the internal code, logged with its stack.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { RegistryError } from './errors.js';

/** The codes fastify's own refusals become. */
export interface RefusalCodes<C extends string> {
  /** A body that fails its schema, and any other 4xx of fastify's. */
  badRequest: C;
  /** No such route. */
  notFound: C;
  /** Any exception that is not a registry error. */
  internal: C;
  /** Codes for particular 4xx statuses of fastify's refusals (a body too large, a rate limit). */
  byStatus?: Readonly<Partial<Record<number, C>>>;
}

type StandardCode = 'BAD_REQUEST' | 'NOT_FOUND' | 'INTERNAL_ERROR';
const kStandardCodes: RefusalCodes<StandardCode> = { badRequest: 'BAD_REQUEST', notFound: 'NOT_FOUND', internal: 'INTERNAL_ERROR' };

export type ErrorAnswersOptions<C extends string> = {
  /** The portal's error class. */
  errorClass: new (code: C, detail: string) => RegistryError<C>;
  /** Answers carry the detail (test mode); a fault's detail is then its message. */
  withDetail: boolean;
  /** The error page; `detail` is the error's detail when answers carry it. */
  page: (error: RegistryError<C>, detail: string | undefined) => string;
  /** Another JSON body for some requests outside /api/ (the IdP's OAuth endpoints); undefined: the page. */
  json?: (request: FastifyRequest, error: RegistryError<C>) => object | undefined;
} & (StandardCode extends C ? { codes?: Partial<RefusalCodes<C>> } : { codes: RefusalCodes<C> });

async function errorAnswers<C extends string>(app: FastifyInstance, options: ErrorAnswersOptions<C>): Promise<void> {
  // Without codes of its own, the registry has the standard ones (the options' type sees to it).
  const codes = { ...kStandardCodes, ...options.codes } as RefusalCodes<C>;
  const send = (request: FastifyRequest, reply: FastifyReply, error: RegistryError<C>): FastifyReply => {
    reply.code(error.status);
    if (request.url.startsWith('/api/')) return reply.type('application/json; charset=utf-8').send(error.body(options.withDetail));
    const json = options.json?.(request, error);
    if (json) return reply.type('application/json; charset=utf-8').send(json);
    return reply.type('text/html; charset=utf-8').send(options.page(error, options.withDetail ? error.detail : undefined));
  };

  app.setErrorHandler((error: FastifyError | RegistryError<C>, request, reply) => {
    if (error instanceof RegistryError) return send(request, reply, error);
    const status = error.statusCode;
    if (error.validation || (status !== undefined && status >= 400 && status < 500)) {
      const code = (status !== undefined && codes.byStatus?.[status]) || codes.badRequest;
      return send(request, reply, new options.errorClass(code, error.message));
    }
    request.log.error(error);
    return send(request, reply, new options.errorClass(codes.internal, options.withDetail ? error.message : 'internal error'));
  });
  app.setNotFoundHandler((request, reply) => send(request, reply, new options.errorClass(codes.notFound, `${request.method} ${request.url.split('?')[0]}`)));
}

/** Registered as `errorAnswersPlugin<TheRegistrysCode>`, so that the codes given are checked against the registry. */
export const errorAnswersPlugin: typeof errorAnswers = fp(errorAnswers, { name: 'error-answers' });
