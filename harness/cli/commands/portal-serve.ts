/**
 * What the serve commands of the portals (portal, citizen, mypage) share: the test CA directory they
 * trust, the options they all take, and serving until SIGINT or SIGTERM. Not a command of its own.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { makeDatabaseDirectory } from '../../portal/shared/sqlite.js';
import type { Argv } from 'yargs';
import type { PortalOptions } from '../../portal/mynaportal/app.js';
import { CaDirectoryError, portalOptionsFromCaDir, type CaDirectorySettings } from '../../portal/mynaportal/portal-options.js';
import { UserError } from '../errors.js';
import { defaultCaDir } from '../paths.js';

/** The portal options from the test CA directory named by `--ca`; a UserError says what is missing. */
export function portalOptionsFromCaArg(ca: string, settings: CaDirectorySettings): { caDir: string; options: PortalOptions } {
  const caDir = resolve(ca);
  if (!existsSync(caDir)) throw new UserError(`--ca: no test CA at ${caDir}; create one with: jpki-hil ca init --dir ${ca}`, 2);
  try {
    return { caDir, options: portalOptionsFromCaDir(caDir, settings) };
  } catch (e) {
    if (e instanceof CaDirectoryError) throw new UserError(`--ca: ${e.message}`, 2);
    throw new UserError(`--ca: cannot use the test CA in ${caDir}: ${(e as Error).message}`, 2);
  }
}

/** What a relying party beside the mock portal trusts of the test CA named by `--ca`. */
export function caTrustFromCaArg(ca: string): { caDir: string; trust: Pick<PortalOptions, 'verifier' | 'cardInfoPublicKey' | 'holders'> } {
  const { caDir, options } = portalOptionsFromCaArg(ca, { db: ':memory:' });
  return { caDir, trust: { verifier: options.verifier, cardInfoPublicKey: options.cardInfoPublicKey, holders: options.holders } };
}

/** `--db` as the portal opens it: ':memory:' as is, a file relative to the working directory. */
export function dbPathFromArg(db: string): string {
  if (db === ':memory:') return db;
  const path = resolve(db);
  if (existsSync(path) && !statSync(path).isFile()) throw new UserError(`--db ${db} is not a database file (it is a directory or a device); name a .sqlite file`, 2);
  try {
    makeDatabaseDirectory(dirname(path));
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    throw new UserError(`--db ${db}: cannot create the database there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path, or :memory:`, 2);
  }
  return path;
}

/** --host, --ca and --db, in that order after the command's port options. */
export function hostCaDbOptions<T>(y: Argv<T>, db: { default: string; defaultDescription: string; describe: string }) {
  return y
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
    .option('ca', { type: 'string', default: defaultCaDir(), defaultDescription: 'out/ca', describe: 'Test CA directory to trust' })
    .option('db', { type: 'string', ...db });
}

/** Starts a server; a failure becomes a UserError that names what could not start where. */
export async function startServer<T>(what: string, host: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot start ${what} on ${host}:${port}: ${(e as Error).message}`);
  }
}

/** Resolves when `stop` is aborted (at once when it already is). */
export function untilAborted(stop: AbortSignal): Promise<void> {
  return new Promise<void>((done) => {
    if (stop.aborted) done();
    else stop.addEventListener('abort', () => done(), { once: true });
  });
}

/** Runs `serve` with a signal that SIGINT or SIGTERM aborts, listening for them only meanwhile. */
export async function serveUntilSignal(serve: (stop: AbortSignal) => Promise<unknown>): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await serve(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
