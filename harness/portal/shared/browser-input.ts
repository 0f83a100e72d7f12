/** What a portal reads from browsers besides JSON: signed cookies and urlencoded form bodies. */
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface BrowserInputOptions {
  /** Signs the cookies (cookieSecretOf in portal-setup.ts checks it). */
  cookieSecret: string;
}

async function browserInput(app: FastifyInstance, options: BrowserInputOptions): Promise<void> {
  await app.register(fastifyCookie, { secret: options.cookieSecret });
  await app.register(fastifyFormbody);
}

export const browserInputPlugin = fp(browserInput, { name: 'browser-input' });
