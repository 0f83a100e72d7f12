/** Locations the CLI uses by default, relative to the package and to the working directory. */
import { resolve } from 'node:path';

export { kCardDefinitionsDir, kPackageRoot } from '../package-root.js';

/** Run output and generated state go under out/ in the working directory. */
export function outDir(...parts: string[]): string {
  return resolve(process.cwd(), 'out', ...parts);
}

export const defaultCaDir = (): string => outDir('ca');
