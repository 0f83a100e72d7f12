/**
 * What a run leaves behind holds no secret. The Sendai My Page seed (an account with a password,
 * an e-mail code, the card linked with its PIN through the xID app) runs through the built
 * `jpki-hil run` on a card with distinctive PINs and a distinctive portal password, and fails at its
 * end on purpose, so that the runner keeps all its evidence: reports, run log, APDU trace, screenshot
 * and the Playwright trace. Every file under the out directory, the trace zip unpacked by `unzip`, is
 * searched for every PIN and password. The same run checks that a command the card refuses shows the
 * card's reason in the reports while the reader got the status word alone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../harness/runner/results.js';
import { kPackageRoot, tempDir } from '../../support/cards.js';
import { artifactsUnder, findSecrets } from '../../support/secret-scan.js';
import { kBin } from '../../support/served-card.js';

const kPins = { auth: '0740', sign: 'QZSIGN77', kenhojo: '0852', juki: '0963' };
const kPortalPassword = 'Kq7pass9WORD';
const kAppPin = '3806';
const kRefusedDetail = 'only the first occurrence (P2 00, 04 or 0C) is supported';

describe('a failed run of a seed scenario keeps no PIN or password in any artifact', () => {
  const dir = tempDir('jpki-hil-secrets-');
  const out = join(dir.path, 'out');
  let files: Record<string, Buffer>;
  let result: RunResult;

  beforeAll(() => {
    writeFileSync(
      join(dir.path, 'card.yaml'),
      `description: PINs that stand out, to search the artifacts for.\npins: { auth: '${kPins.auth}', sign: ${kPins.sign}, kenhojo: '${kPins.kenhojo}', juki: '${kPins.juki}' }\n`,
    );
    // A command the card refuses (SELECT with P2 01 answers 6A86), sent by a custom step through the scenario's reader.
    writeFileSync(
      join(dir.path, 'refused.mjs'),
      `export async function refusedSelect(ctx) {
  const connection = await ctx.reader.connect();
  const response = await connection.transmit(Uint8Array.from([0x00, 0xa4, 0x04, 0x01, 0x0a, 0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]));
  await connection.disconnect('leave');
  if (Buffer.from(response).toString('hex') !== '6a86') throw new Error('the reader got ' + Buffer.from(response).toString('hex') + ', not 6a86 alone');
}
`,
    );
    const seed = readFileSync(join(kPackageRoot, 'scenarios', 'seeds', 'sendai-mypage-link-and-post.yaml'), 'utf8');
    expect(seed).toContain('value: sendai2026');
    expect(seed).toContain("appPin: '2580'");
    const text = seed
      .replace('id: sendai-mypage-link-and-post', 'id: secrets-in-artifacts')
      .replace('card: adult', 'card: ./card.yaml')
      .replace('value: sendai2026', `value: ${kPortalPassword}`)
      .replace("appPin: '2580'", `appPin: '${kAppPin}'`)
      .trimEnd()
      .concat(
        `\n  - custom: { module: ./refused.mjs, export: refusedSelect, name: a SELECT the card refuses }`,
        `\n  - expectText: { testId: post-status, text: never shown, timeoutMs: 1500, name: fails on purpose so that the evidence is kept }\n`,
      );
    writeFileSync(join(dir.path, 'scenario.yaml'), text);
    const run = spawnSync(process.execPath, [kBin, 'run', join(dir.path, 'scenario.yaml'), '--out', out, '--workers', '1'], { encoding: 'utf8', timeout: 150_000 });
    writeFileSync(join(out, 'stdout.txt'), run.stdout);
    writeFileSync(join(out, 'stderr.txt'), run.stderr);
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(1);
    files = artifactsUnder(out);
    result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult;
  }, 180_000);
  afterAll(() => dir.remove());

  it('failed only at the last step, with every kind of evidence kept', () => {
    const steps = result.scenarios[0]!.steps;
    expect(steps.filter((s) => s.status === 'failed').map((s) => s.index)).toEqual([steps.length - 1]);
    const names = Object.keys(files);
    for (const wanted of ['report.html', 'junit.xml', 'results.json', 'run.log', 'attempt-1/apdu-trace.json', 'attempt-1/failure.png', 'playwright-trace.zip!/trace.trace', 'playwright-trace.zip!/trace.network']) {
      expect(names.some((n) => n.endsWith(wanted)), wanted).toBe(true);
    }
    // The secrets were used: the card was verified, and the password field was filled.
    expect(steps.flatMap((s) => s.apdus ?? []).some((a) => a.command === '0020008004********' && a.sw === '9000')).toBe(true);
    expect(steps.find((s) => s.kind === 'fill' && s.name.startsWith('[signup-password]'))?.status).toBe('passed');
  });

  it('no PIN, signing password, app PIN or portal password in any file, in hex or as text', () => {
    expect(findSecrets(files, [...Object.values(kPins), kAppPin, kPortalPassword])).toEqual([]);
  });

  it('the reports name a secret fill with a marker and a template fill by its reference', () => {
    const names = result.scenarios[0]!.steps.map((s) => s.name);
    expect(names).toContain('[signup-password] ← ********');
    expect(names).toContain('[signup-code] ← ${saved.code}');
    expect(names).toContain('[signup-email] ← sendai@example.jp');
  });

  it('a refused command shows the card\'s reason in the JSON, JUnit and HTML reports; the reader got 6A86 alone', () => {
    const step = result.scenarios[0]!.steps.find((s) => s.name === 'a SELECT the card refuses')!;
    expect(step.status).toBe('passed');
    expect(step.apdus).toEqual([expect.objectContaining({ command: '00A404010AD392F000260100000001', response: '', sw: '6A86', detail: kRefusedDetail })]);
    expect(files['junit.xml']!.toString('utf8')).toContain(`6A86 incorrect parameters P1-P2 (${kRefusedDetail})`);
    expect(files['report.html']!.toString('utf8')).toContain(`<span data-testid="apdu-detail">${kRefusedDetail}</span>`);
  });
});
