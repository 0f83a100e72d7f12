/** Where the jpki-hil package lives, for the data it ships (card definitions, scenarios). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file whether it runs from dist/ or from the sources. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'jpki-hil') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the jpki-hil package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const kPackageRoot = findPackageRoot();

export const kCardDefinitionsDir = join(kPackageRoot, 'scenarios', 'cards');


/**
 * Whether this is the repository (with its set-up script) rather than the package installed in a
 * user's project: the advice for a missing native module differs.
 */
const kInRepository = existsSync(join(kPackageRoot, 'scripts', 'setup.sh'));

/** What to do when a native module of the package is not built, in the words that fit where it runs. */
export function nativeModuleAdvice(module: 'pcsclite' | 'better-sqlite3'): string {
  if (kInRepository) return module === 'pcsclite' ? 'run `npm run setup -- --pcsc` (or `bash scripts/pcsc-setup.sh`)' : 'run `npm run setup`';
  const packages = module === 'pcsclite' ? 'libpcsclite-dev, python3, make and g++ (Debian: sudo apt-get install -y libpcsclite-dev pcscd vsmartcard-vpcd build-essential)' : 'python3, make and g++';
  return `allow its install script in your package.json ("allowScripts": { "${module}": true }), have ${packages} installed, and run \`npm rebuild ${module}\``;
}
