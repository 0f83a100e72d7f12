/**
 * How the built runner (dist/, as `jpki-hil run` uses it) loads a scenario's TypeScript step
 * modules: a package step module as the copy `npm run build` made, next to the runner's own
 * modules (refused when older than its source); any other TypeScript file through tsx's loader,
 * sibling TypeScript imports included; a module that does not load is the harness's defect.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kPackageRoot, tempDir } from '../../support/cards.js';

const kLoader = pathToFileURL(join(kPackageRoot, 'dist', 'harness', 'runner', 'steps', 'custom-steps.js')).href;

/** Runs `body` in a fresh Node with the built loader imported as `load`; its stdout. */
function inBuiltRunner(body: string): { out: string; err: string; code: number | null } {
  const script = `import { importStepModule as load } from ${JSON.stringify(kLoader)};\n${body}`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { out: run.stdout.trim(), err: run.stderr, code: run.status };
}

describe('step modules under the built runner', () => {
  const dir = tempDir('jpki-hil-steps-');
  const inPackage = join(kPackageRoot, 'out', `step-module-test-${process.pid}`);
  afterAll(() => {
    dir.remove();
    rmSync(inPackage, { recursive: true, force: true });
    rmSync(join(kPackageRoot, 'dist', 'out', `step-module-test-${process.pid}`), { recursive: true, force: true });
  });

  it('loads a TypeScript step of the user’s own that imports a sibling TypeScript module', () => {
    writeFileSync(join(dir.path, 'helper.ts'), 'export interface Greeting { text: string }\nexport const greet = (who: string): Greeting => ({ text: `hello ${who}` });\n');
    writeFileSync(join(dir.path, 'step.ts'), "import { greet, type Greeting } from './helper.js';\nexport function hello(): string {\n  const g: Greeting = greet('card');\n  return g.text;\n}\n");
    const run = inBuiltRunner(`const m = await load(${JSON.stringify(join(dir.path, 'step.ts'))}); console.log(m.hello());`);
    expect(run.out, run.err).toBe('hello card');
  });

  it('takes a package step module from dist/, the very module a direct import of the build gives', () => {
    const source = join(kPackageRoot, 'scenarios', 'negative', 'steps', 'clock.ts');
    const built = pathToFileURL(join(kPackageRoot, 'dist', 'scenarios', 'negative', 'steps', 'clock.js')).href;
    const run = inBuiltRunner(`const m = await load(${JSON.stringify(source)}); console.log(m === (await import(${JSON.stringify(built)})));`);
    expect(run.out, run.err).toBe('true');
  });

  it('refuses a package step module whose build is older than its source, naming the command', () => {
    mkdirSync(inPackage, { recursive: true });
    const builtDir = join(kPackageRoot, 'dist', 'out', `step-module-test-${process.pid}`);
    mkdirSync(builtDir, { recursive: true });
    writeFileSync(join(inPackage, 'late.ts'), 'export const v = 2;\n');
    writeFileSync(join(builtDir, 'late.js'), 'export const v = 1;\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(builtDir, 'late.js'), past, past);
    const run = inBuiltRunner(`try { await load(${JSON.stringify(join(inPackage, 'late.ts'))}); console.log('loaded'); } catch (e) { console.log(e.classification + ': ' + e.message); }`);
    expect(run.out, run.err).toBe(`harness: out/step-module-test-${process.pid}/late.ts is newer than its build dist/out/step-module-test-${process.pid}/late.js: run \`npm run build\` in ${kPackageRoot}`);
  });

  it('reports a step module that does not compile as the harness’s defect, with the reason', () => {
    writeFileSync(join(dir.path, 'broken.ts'), 'export function broken(: string {\n');
    const run = inBuiltRunner(`try { await load(${JSON.stringify(join(dir.path, 'broken.ts'))}); console.log('loaded'); } catch (e) { console.log(e.classification + ': ' + e.message); }`);
    expect(run.out, run.err).toMatch(/^harness: .*broken\.ts does not load: /);
  });
});
