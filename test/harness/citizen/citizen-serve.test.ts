/** `jpki-hil citizen serve`: the city portal and the IdP started together, linked as client and provider. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kCitizenClientId, registerCitizenCommand, serveCitizen } from '../../../harness/cli/commands/citizen.js';
import type { CommandContext } from '../../../harness/cli/command.js';
import { issueFixture, tempDir } from '../../support/cards.js';
import { runRegistrar } from '../readers/run-registrar.js';

describe('jpki-hil citizen serve', () => {
  const dir = tempDir('jpki-hil-citizen-serve-');

  beforeAll(async () => {
    await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('names `jpki-hil ca init` when the CA directory is missing', async () => {
    const missing = join(dir.path, 'missing-ca');
    const result = await runRegistrar(registerCitizenCommand, ['citizen', 'serve', '--ca', missing, '--port', '0', '--idp-port', '0', '--db', ':memory:']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`jpki-hil ca init --dir ${missing}`);
  });

  it('serves both until stopped, the IdP knowing the portal as its client by its redirect URI only', async () => {
    const out: string[] = [];
    const ctx: CommandContext = { io: { out: (t) => out.push(t), err: (t) => out.push(t) }, exitCode: 0 };
    const stop = new AbortController();
    const served = serveCitizen(ctx, { port: 0, idpPort: 0, host: '127.0.0.1', ca: join(dir.path, 'ca'), db: ':memory:', testMode: true }, stop.signal);
    while (!out.some((l) => l.startsWith('IdP: '))) await new Promise((r) => setTimeout(r, 20));
    const citizenUrl = /city portal: (\S+)\//.exec(out.join('\n'))![1]!;
    const idpUrl = /IdP: (\S+)\//.exec(out.join('\n'))![1]!;
    const discovery = (await (await fetch(`${idpUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(idpUrl);
    expect((await fetch(`${citizenUrl}/`)).status).toBe(200);
    expect((await fetch(`${citizenUrl}/api/test/outbox`)).status).toBe(200);
    // The client the portal is registered as, with its redirect URI only.
    const authorize = new URL(`${idpUrl}/authorize`);
    authorize.search = new URLSearchParams({ client_id: kCitizenClientId, redirect_uri: 'http://elsewhere.test/cb' }).toString();
    expect((await fetch(authorize, { redirect: 'manual' })).status).toBe(400);
    stop.abort();
    expect(await served).toEqual({ citizen: citizenUrl, idp: idpUrl });
    await expect(fetch(`${citizenUrl}/`)).rejects.toThrow();
  });
});
