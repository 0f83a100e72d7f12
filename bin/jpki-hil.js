#!/usr/bin/env node
// The jpki-hil command. The TypeScript sources are compiled to dist/ by `npm run setup`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, 'dist', 'harness', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`jpki-hil: ${main} is missing; run 'npm run setup' in ${root} first.\n`);
  process.exit(1);
}
const { run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
