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

