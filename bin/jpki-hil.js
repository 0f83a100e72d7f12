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
// SIGINT and SIGTERM end a command at once (exit 130 / 143) through process.exit, so that exit
// handlers run (card image locks are released); writes are atomic, so nothing is left half-written.
// A command that listens for the signal itself (the servers, `run`) shuts down in its own way.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  const fallback = () => {
    if (process.listenerCount(signal) === baseline[signal]) process.exit(code);
  };
  process.on(signal, fallback);
}
const baseline = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
process.exitCode = await run(process.argv.slice(2));
