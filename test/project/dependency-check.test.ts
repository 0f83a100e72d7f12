import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** `npm run deps` (part of `npm test`'s check) must fail on a declared dependency nothing imports, and on an import nothing declares. */
describe('the dependency check', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uses the project configuration and names an unused and an undeclared dependency', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    dir = await mkdtemp(join(tmpdir(), 'jpki-hil-deps-'));
    await cp(join(root, 'knip.json'), join(dir, 'knip.json'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'probe', type: 'module', scripts: { deps: pkg.scripts.deps }, dependencies: { yaml: '^2.0.0', 'left-pad': '^1.3.0' } }));
    await mkdir(join(dir, 'harness', 'cli'), { recursive: true });
    await writeFile(join(dir, 'harness', 'cli', 'main.ts'), "import { parse } from 'yaml';\nimport { WebSocket } from 'ws';\nexport const x = [parse, WebSocket];\n");
    const knip = join(root, 'node_modules', '.bin', 'knip');
    const args = pkg.scripts.deps!.split(' ').slice(1);
    const result = await run(knip, args, { cwd: dir, encoding: 'utf8' }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(result.code).not.toBe(0);
    expect(result.out).toMatch(/Unused dependencies[\s\S]*left-pad/);
    expect(result.out).toMatch(/Unlisted dependencies[\s\S]*ws/);
    expect(result.out).not.toMatch(/\byaml\b/);
  });
});
