/**
 * A portal's page scripts: TypeScript modules under `<portal>/browser/`, type-checked against the
 * DOM by tsconfig.browser.json and built into dist/ by `npm run build` (scripts/setup.sh runs it),
 * served as /static/<name>.js. The portal reads them once when it starts; a script that is missing
 * from dist/, or older than its source, stops the start with the command that fixes it, so that no
 * browser ever runs a stale script.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { kPackageRoot } from '../../package-root.js';

export interface BrowserScriptsOptions {
  /** The scripts' source folder, e.g. `harness/portal/mynaportal/browser`. */
  readonly sourceDir: string;
}

/** Every built script of `sourceDir` (under the package `root`) as name (`login.js`) → text. */
export function loadBrowserScripts(sourceDir: string, root = kPackageRoot): Map<string, string> {
  const source = join(root, sourceDir);
  const built = join(root, 'dist', sourceDir);
  const scripts = new Map<string, string>();
  // From the sources, each .ts must have been built; from an installed package (no sources), what was built.
  const names = existsSync(source)
    ? readdirSync(source).filter((name) => name.endsWith('.ts'))
    : existsSync(built)
      ? readdirSync(built).filter((name) => name.endsWith('.js')).map((name) => name.replace(/\.js$/, '.ts'))
      : [];
  if (names.length === 0) throw new Error(`no page scripts in ${relative(root, source)} or ${relative(root, built)}: run \`npm run build\` in ${root}`);
  for (const name of names) {
    const js = join(built, name.replace(/\.ts$/, '.js'));
    const ts = join(source, name);
    if (!existsSync(js)) throw new Error(`the page script ${relative(root, js)} is not built: run \`npm run build\` in ${root}`);
    if (existsSync(ts) && statSync(ts).mtimeMs > statSync(js).mtimeMs + 1) {
      throw new Error(`the page script ${relative(root, js)} is older than ${relative(root, ts)}: run \`npm run build\` in ${root}`);
    }
    scripts.set(name.replace(/\.ts$/, '.js'), readFileSync(js, 'utf8'));
  }
  return scripts;
}

/** GET /static/<name>.js for each built script, as JavaScript that the browser revalidates. */
export async function browserScripts(app: FastifyInstance, options: BrowserScriptsOptions): Promise<void> {
  const scripts = loadBrowserScripts(options.sourceDir);
  for (const [name, text] of scripts) {
    app.get(`/static/${name}`, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(text));
  }
}
