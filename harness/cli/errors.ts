/**
 * An error the user can fix: printed as one line with the fix, exit status 1 (2 for usage).
 * Anything else that escapes a command is a bug and is printed with its stack.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

const kErrnoMeaning: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'is a symbolic link loop',
  EROFS: 'is on a read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  EBUSY: 'is busy',
};

/** One line for a Node system error about a path (ENOENT, EACCES, ...), else undefined. */
export function describeEscapedError(e: unknown): string | undefined {
  const error = e as NodeJS.ErrnoException;
  if (!error || typeof error.code !== 'string' || typeof error.path !== 'string') return undefined;
  const what = kErrnoMeaning[error.code] ?? error.code;
  const action = error.syscall === 'open' || error.syscall === 'read' || error.syscall === 'scandir' ? 'read' : error.syscall ?? 'use';
  return `cannot ${action === 'mkdir' ? 'create the directory' : action} ${error.path}: ${what} (${error.code}); check the path and its permissions`;
}
