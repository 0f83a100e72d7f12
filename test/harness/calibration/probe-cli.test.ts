/**
 * `card probe` and `card diff` as commands, over in-process readers: the exit statuses a lab's
 * script relies on (2 for what the user must fix, 3 for a stopped probe) and the report written
 * even when the probe stops.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Argv } from 'yargs';
import { createMemoryCard, serializeCardImage, type CardImage } from '../../../emulator/index.js';
import { kProbeSteps } from '../../../harness/calibration/probe-steps.js';
import type { ProbeReport } from '../../../harness/calibration/probe.js';
import { registerProbeCommands } from '../../../harness/cli/commands/card-probe.js';
import type { CommandContext } from '../../../harness/cli/command.js';
import { InProcessReaderProvider } from '../../../harness/readers/in-process-reader.js';
import { issueFixture, tempDir, type IssuedFixture } from '../../support/cards.js';
import { runRegistrar } from '../readers/run-registrar.js';

describe('card probe and card diff commands', () => {
  const dir = tempDir();
  let fixture: IssuedFixture;
  let provider: InProcessReaderProvider;

  /** Two readers: "lab A" with the fixture, "lab B" with the fixture whose readPastEnd is flipped. */
  function readers(change?: (image: CardImage) => void): InProcessReaderProvider {
    provider = new InProcessReaderProvider();
    provider.add('lab A', createMemoryCard(fixture.image));
    const b = structuredClone(fixture.image);
    b.options.readPastEnd = '9000';
    change?.(b);
    provider.add('lab B', createMemoryCard(b));
    provider.add('lab empty');
    return provider;
  }
  const run = (argv: string[], p: InProcessReaderProvider = readers()) =>
    runRegistrar((parser: Argv, ctx: CommandContext) => registerProbeCommands(parser, ctx, () => p), argv);

  beforeAll(async () => {
    fixture = await issueFixture(dir.path, 'adult');
  });
  afterAll(() => dir.remove());

  it('a wrong PIN stops the probe with exit 3, and --out still gets the transcript so far', async () => {
    const out = join(dir.path, 'stopped.json');
    const wrong = fixture.definition.pins.kenhojo === '9999' ? '9998' : '9999';
    const r = await run(['probe', '--reader', 'lab A', '--kenhojo-pin', wrong, '--out', out]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/rejected the card-info .*\(63C2: 2 tries left\); the probe stopped so that no further try is used/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as ProbeReport;
    expect(report.stopped).toContain('63C2');
    expect(report.transcript.filter((t) => t.command === '0020008004********')).toHaveLength(1);
  });

  it('a PIN of the wrong form, or a negative budget, is exit 2 and nothing is sent', async () => {
    const out = join(dir.path, 'never.json');
    const p = readers();
    const bad = await run(['probe', '--reader', 'lab A', '--kenhojo-pin', '12345', '--out', out], p);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('--kenhojo-pin: the kenhojo PIN must be 4 digits; nothing was sent to the card');
    expect(existsSync(out)).toBe(false);
    const budget = await run(['probe', '--reader', 'lab A', '--allow-pin-tries', '-1']);
    expect(budget.code).toBe(2);
    expect(budget.err).toMatch(/^--allow-pin-tries -1: give a whole number/);
  });

  it('an absent reader and an empty one are exit 2 with one line', async () => {
    const absent = await run(['probe', '--reader', 'nowhere']);
    expect(absent).toMatchObject({ code: 2 });
    expect(absent.err).toMatch(/^no reader named "nowhere"/);
    const empty = await run(['probe', '--reader', 'lab empty']);
    expect(empty).toMatchObject({ code: 2, err: expect.stringMatching(/^no card in reader "lab empty"; insert a My Number Card/) });
  });

  it('prints progress on stderr, the summary and the fragment on stdout', async () => {
    const r = await run(['probe', '--reader', 'lab A']);
    expect(r.code, r.err).toBe(0);
    expect(r.err.split('\n').filter((l) => l.startsWith('probe ['))).toHaveLength(kProbeSteps.length);
    expect(r.err).toMatch(/^probe \[1\/\d+\] /);
    expect(r.out).toMatch(/^tries used by the probe: none$/m);
    expect(r.out).toMatch(/^ {2}readPastEnd +"6B00" +— READ BINARY at offset 32/m);
    expect(r.out).toMatch(/^options:\n {2}# blockedPinSw: not measured: .*\(--allow-pin-tries 3\)$/m);
  });

  it('diff: exit 1 naming readPastEnd between A and B, 0 between a reader and its own image, 2 without two cards', async () => {
    const r = await run(['diff', '--reader', 'lab A', '--reader', 'lab B', '--json']);
    expect(r.code, r.err).toBe(1);
    expect((JSON.parse(r.out) as { diff: { options: Array<{ id: string }> } }).diff.options.map((d) => d.id)).toEqual(['readPastEnd']);
    const image = join(dir.path, 'a.json');
    writeFileSync(image, serializeCardImage(fixture.image));
    const same = await run(['diff', '--reader', 'lab A', '--card', image, '--kenhojo-pin', fixture.definition.pins.kenhojo]);
    expect(same.code, same.out).toBe(0);
    expect(same.err).toMatch(/^B probe \[1\//m);
    const one = await run(['diff', '--reader', 'lab A']);
    expect(one).toMatchObject({ code: 2, err: expect.stringContaining('card diff compares two cards') });
  });
});
