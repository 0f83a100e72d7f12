/** `jpki-hil mypage serve`: My Page trusting a test CA directory, until stopped. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerMyPageCommand, serveMyPage } from '../../../harness/cli/commands/mypage.js';
import type { CommandContext } from '../../../harness/cli/command.js';
import { issueFixture, tempDir } from '../../support/cards.js';
import { runRegistrar } from '../readers/run-registrar.js';

describe('jpki-hil mypage serve', () => {
  const dir = tempDir('jpki-hil-mypage-serve-');

  beforeAll(async () => {
    await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('names `jpki-hil ca init` when the CA directory is missing', async () => {
    const missing = join(dir.path, 'missing-ca');
    const result = await runRegistrar(registerMyPageCommand, ['mypage', 'serve', '--ca', missing, '--port', '0', '--db', ':memory:']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`jpki-hil ca init --dir ${missing}`);
  });

  it('serves the pages and the test outbox until stopped', async () => {
    const out: string[] = [];
    const ctx: CommandContext = { io: { out: (t) => out.push(t), err: (t) => out.push(t) }, exitCode: 0 };
    const stop = new AbortController();
    const served = serveMyPage(ctx, { port: 0, host: '127.0.0.1', ca: join(dir.path, 'ca'), db: ':memory:', testMode: true }, stop.signal);
    while (!out.some((l) => l.startsWith('My Page: '))) await new Promise((r) => setTimeout(r, 20));
    const url = /My Page: (\S+)\//.exec(out.join('\n'))![1]!;
    const top = await fetch(`${url}/`);
    expect(top.status).toBe(200);
    expect(await top.text()).toContain('lang="ja"');
    expect((await fetch(`${url}/api/test/outbox`)).status).toBe(200);
    stop.abort();
    expect(await served).toBe(url);
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });
});
