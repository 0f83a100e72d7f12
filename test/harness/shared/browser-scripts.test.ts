/**
 * A portal serves its page scripts from dist/, and refuses to start on scripts that were never
 * built or were built before their source last changed, saying which file and what to run.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrowserScripts } from '../../../harness/portal/shared/browser-scripts.js';
import { tempDir } from '../../support/cards.js';

describe('loadBrowserScripts', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

  function packageWith(files: Record<string, string>): string {
    const dir = tempDir('jpki-hil-scripts-');
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir.path, name, '..'), { recursive: true });
      writeFileSync(join(dir.path, name), text);
    }
    return dir.path;
  }

  it('reads each built script of the source folder', () => {
    const root = packageWith({ 'site/browser/login.ts': 'ts', 'dist/site/browser/login.js': 'built login' });
    expect([...loadBrowserScripts('site/browser', root)]).toEqual([['login.js', 'built login']]);
  });

  it('without sources (an installed package), serves what was built', () => {
    const root = packageWith({ 'dist/site/browser/login.js': 'built', 'dist/site/browser/page.js': 'page' });
    expect([...loadBrowserScripts('site/browser', root).keys()].sort()).toEqual(['login.js', 'page.js']);
  });

  it('names a script that was never built and the command that builds it', () => {
    const root = packageWith({ 'site/browser/login.ts': 'ts', 'site/browser/page.ts': 'ts', 'dist/site/browser/login.js': 'built' });
    expect(() => loadBrowserScripts('site/browser', root)).toThrow(`the page script dist/site/browser/page.js is not built: run \`npm run build\` in ${root}`);
  });

  it('refuses a build older than its source', () => {
    const root = packageWith({ 'site/browser/login.ts': 'ts', 'dist/site/browser/login.js': 'stale' });
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(root, 'dist/site/browser/login.js'), past, past);
    expect(() => loadBrowserScripts('site/browser', root)).toThrow('the page script dist/site/browser/login.js is older than site/browser/login.ts: run `npm run build`');
  });

  it('says so when there is nothing at all', () => {
    const root = packageWith({ 'README.md': 'x' });
    expect(() => loadBrowserScripts('site/browser', root)).toThrow('no page scripts in site/browser or dist/site/browser: run `npm run build`');
  });
});
