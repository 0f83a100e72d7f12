/**
 * The portal as a served process: options from a CA directory (and their errors), the one module
 * that listens, and `jpki-hil portal serve`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPortalCommand, servePortal, type PortalServeArgs } from '../../../harness/cli/commands/portal.js';
import type { CommandContext } from '../../../harness/cli/command.js';
import { CaDirectoryError, portalOptionsFromCaDir } from '../../../harness/portal/mynaportal/portal-options.js';
import { startPortal } from '../../../harness/portal/mynaportal/server.js';
import { initCa } from '../../../emulator/index.js';
import { runRegistrar } from '../readers/run-registrar.js';
import { caWorld, type CaWorld } from './support/portal-fixture.js';

describe('serving the portal', () => {
  let world: CaWorld;

  beforeAll(async () => {
    world = caWorld();
    await world.issue('adult');
  });
  afterAll(() => world.remove());

  it('explains what a CA directory lacks', () => {
    const missing = join(world.dir, 'no-such-ca');
    expect(() => portalOptionsFromCaDir(missing, { db: ':memory:' })).toThrow(CaDirectoryError);
    expect(() => portalOptionsFromCaDir(missing, { db: ':memory:' })).toThrow(/jpki-hil ca init --dir/);
    // A CA that has issued no card has not published its card-info key yet.
    const bare = join(world.dir, 'bare-ca');
    initCa(bare);
    expect(() => portalOptionsFromCaDir(bare, { db: ':memory:' })).toThrow(/card-info-ap\.pub\.pem is missing.*jpki-hil card issue/);
    expect(() => portalOptionsFromCaDir(world.caDir, { db: ':memory:', revocation: 'ocsp' })).toThrow(/responder URL/);
  });

  it('listens on the given address and stops listening on close', async () => {
    const portal = await startPortal({ ...portalOptionsFromCaDir(world.caDir, { db: ':memory:' }), host: '127.0.0.1', port: 0 });
    expect(portal.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const top = await fetch(`${portal.url}/`);
    expect(top.status).toBe(200);
    expect(await top.text()).toContain('<html lang="ja">');
    await portal.close();
    await expect(fetch(`${portal.url}/`)).rejects.toThrow();
  });

  it('jpki-hil portal serve names `jpki-hil ca init` when the CA directory is missing', async () => {
    const missing = join(world.dir, 'missing-ca');
    const result = await runRegistrar(registerPortalCommand, ['portal', 'serve', '--ca', missing, '--port', '0', '--db', ':memory:']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`no test CA at ${missing}`);
    expect(result.err).toContain(`jpki-hil ca init --dir ${missing}`);
  });

  it('serves until stopped, printing the URL, with the database where --db says', async () => {
    const out: string[] = [];
    const ctx: CommandContext = { io: { out: (t) => out.push(t), err: (t) => out.push(t) }, exitCode: 0 };
    const stop = new AbortController();
    const args: PortalServeArgs = {
      port: 0,
      host: '127.0.0.1',
      ca: world.caDir,
      db: join(world.dir, 'portal', 'portal.db'),
      agentUrl: 'ws://127.0.0.1:24680/',
      crlMode: 'crl',
      crlFrom: 'files',
    };
    const serving = servePortal(ctx, args, stop.signal);
    for (let i = 0; i < 200 && !out.some((l) => l.startsWith('portal: ')); i++) await new Promise((r) => setTimeout(r, 10));
    const url = /^portal: (http:\/\/127\.0\.0\.1:\d+)\/$/.exec(out[0] ?? '')?.[1];
    expect(url, out.join('\n')).toBeDefined();
    const login = await fetch(`${url}/login`);
    expect(await login.text()).toContain('<meta name="pc-agent-url" content="ws://127.0.0.1:24680/">');
    stop.abort();
    expect(await serving).toBe(url);
    expect(existsSync(args.db)).toBe(true);
  });
});
