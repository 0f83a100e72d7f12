/** What My Page's route plugins share. */
import type { KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PortalFlaw } from '../shared/flaws.js';
import type { HolderDirectory } from '../shared/holders.js';
import type { Verifier } from '../verification/types.js';
import type { OnlineApplication } from './catalogue.js';
import type { CodeGuard } from '../shared/codes.js';
import type { LoginThrottle } from '../shared/login-throttle.js';
import type { Outbox } from './codes.js';
import { MyPageError } from './errors.js';
import type { LinkTransactions } from './link-transactions.js';
import type { MyPageSession, MyPageSessions } from './sessions.js';
import type { MyPageStore } from './store.js';

export interface MyPageContext {
  store: MyPageStore;
  sessions: MyPageSessions;
  outbox: Outbox;
  /** Send and try limits of the confirmation codes. */
  codes: CodeGuard;
  /** Failed password logins per account and per client address. */
  logins: LoginThrottle;
  transactions: LinkTransactions;
  verifier: Verifier;
  cardInfoKey: KeyObject;
  /** The issuer's certificate-to-person register: whose card it is (../holders.ts). */
  holders: HolderDirectory;
  flaws: ReadonlySet<PortalFlaw>;
  applications: readonly OnlineApplication[];
  /** The portal's own URL as browsers and phones reach it. */
  publicUrl: () => string;
  now: () => Date;
  testMode: boolean;
}

export function sendHtml(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

export function loggedIn(request: FastifyRequest): MyPageSession & { accountId: string } {
  const session = request.myPageSession;
  if (!session?.accountId) throw new MyPageError('LOGIN_REQUIRED', 'this page needs a logged-in account');
  return session as MyPageSession & { accountId: string };
}

export function formText(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}
