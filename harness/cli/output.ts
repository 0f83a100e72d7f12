/** Where commands write: injectable so that tests can run the CLI in-process and read what it printed. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

let pipeWatched = false;

/**
 * A reader that stops reading (`| head`) is not an error: end quietly, as a Unix filter does,
 * instead of dying on an unhandled EPIPE. Other stream errors still end the command, in one line.
 */
function watchBrokenPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      process.exitCode = 1;
    });
  }
}

export const kProcessIo: CliIo = {
  out: (text) => {
    watchBrokenPipe();
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  err: (text) => {
    watchBrokenPipe();
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  },
};
