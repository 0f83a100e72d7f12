/** Opens the test CA a command's --dir names, or says how to make one. */
import { loadCa } from '../../emulator/index.js';
import { UserError } from './errors.js';

export function openCa(dir: string): ReturnType<typeof loadCa> {
  try {
    return loadCa(dir);
  } catch (e) {
    throw new UserError(`--dir: ${(e as Error).message}; create a CA with: jpki-hil ca init --dir ${dir}`, 2);
  }
}
