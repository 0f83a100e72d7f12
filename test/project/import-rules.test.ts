import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Runs the project's import rules (the `lint:imports` script's arguments) in `cwd`; the violations found. */
async function cruise(cwd: string): Promise<{ code: number; violations: Violation[] }> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const args = pkg.scripts['lint:imports']!.split(' ').slice(1);
  const cruiseWith = (output: string): Promise<{ code: number; out: string }> =>
    run(process.execPath, [depcruise, ...args.map((a) => (a === 'err' ? output : a))], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
  // The script's own form decides the exit status; the JSON form says which rules fired.
  const [script, json] = await Promise.all([cruiseWith('err'), cruiseWith('json')]);
  const report = JSON.parse(json.out) as { summary: { violations: Violation[] } };
  return { code: script.code, violations: report.summary.violations };
}

describe('the import rules (docs/architecture.md)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('hold on the real tree: no cycle, no arrow a wing may not take', async () => {
    const { code, violations } = await cruise(root);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
    expect(code).toBe(0);
  }, 120_000);

  it('fail when an arrow against the rules or a cycle is added', async () => {
    dir = await mkdtemp(join(tmpdir(), 'jpki-hil-imports-'));
    await cp(join(root, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['**/*.ts'] }));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'probe', type: 'module' }));
    const files: Record<string, string> = {
      'iso7816/bytes.ts': 'export const x = 1;\n',
      'common/markup.ts': "import { x } from '../iso7816/bytes.js';\nexport const y = x;\n",
      'emulator/index.ts': "export { card } from './card/card.js';\n",
      'emulator/card/card.ts': 'export const card = 1;\n',
      // The card reaching into the harness.
      'emulator/card/peek.ts': "import { portal } from '../../harness/portal/app.js';\nexport const p = portal;\n",
      // A relying party peeking at the card, even through the public entry point.
      'harness/portal/app.ts': "import { card } from '../../emulator/index.js';\nexport const portal = card;\n",
      // The runner going past the emulator's entry point.
      'harness/runner/run.ts': "import { card } from '../../emulator/card/card.js';\nexport const r = card;\n",
      // A reporter reading a reader.
      'reports/list.ts': "import { reader } from '../harness/readers/reader.js';\nexport const l = reader;\n",
      'harness/readers/reader.ts': 'export const reader = 1;\n',
      // A cycle inside one wing.
      'harness/agents/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'harness/agents/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      // The card-info decoder used by the encoder's side.
      'common/card-info-format.ts': 'export const decode = 1;\n',
      'emulator/card/info.ts': "import { decode } from '../../common/card-info-format.js';\nexport const i = decode;\n",
      // A page script reaching for server code, beside one that imports its own folder.
      'harness/portal/site/browser/page.ts': "import { portal } from '../../app.js';\nexport const s = portal;\n",
      'harness/portal/site/browser/login.ts': "import { s } from './page.js';\nexport const l = s;\n",
      // One portal borrowing another's code, and a shared part leaning on a portal.
      'harness/portal/other/routes.ts': "import { portal } from '../site/server.js';\nexport const o = portal;\n",
      'harness/portal/site/server.ts': "import { h } from '../shared/html.js';\nexport const portal = h;\n",
      'harness/portal/shared/html.ts': "import { o } from '../other/routes.js';\nexport const h = () => o;\n",
      // A folder nobody gave rules to.
      'harness/gadgets/g.ts': "import { x } from '../../iso7816/bytes.js';\nexport const g = x;\n",
    };
    for (const [file, text] of Object.entries(files)) {
      await mkdir(join(dir, dirname(file)), { recursive: true });
      await writeFile(join(dir, file), text);
    }
    const { code, violations } = await cruise(dir);
    const found = violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'wing:emulator: emulator/card/peek.ts → harness/portal/app.ts',
        'wing:harness/portal: harness/portal/app.ts → emulator/index.ts',
        'emulator-public-entry: harness/runner/run.ts → emulator/card/card.ts',
        'wing:harness/runner: harness/runner/run.ts → emulator/card/card.ts',
        'wing:reports: reports/list.ts → harness/readers/reader.ts',
        'decoder-apart-from-encoder: emulator/card/info.ts → common/card-info-format.ts',
        'no-unknown-wing: harness/gadgets/g.ts → iso7816/bytes.ts',
        'page-scripts-in-the-page: harness/portal/site/browser/page.ts → harness/portal/app.ts',
        'portals-apart: harness/portal/other/routes.ts → harness/portal/site/server.ts',
        'portal-shared-parts-below-the-portals: harness/portal/shared/html.ts → harness/portal/other/routes.ts',
      ]),
    );
    expect(found.some((f) => f.startsWith('no-circular: harness/agents/'))).toBe(true);
    // Nothing else is reported: the allowed arrows of the probe (common → iso7816, index → card) pass.
    expect(found.filter((f) => f.includes('common/markup.ts') || f.startsWith('wing:emulator: emulator/index.ts') || f.includes('browser/login.ts') || f.startsWith('portals-apart: harness/portal/site/server.ts'))).toEqual([]);
    expect(code).not.toBe(0);
  }, 120_000);
});
