/** The bench's worker threads talk in `{ kind, … }` messages; this waits for the next one. */
import type { Worker } from 'node:worker_threads';

/**
 * The worker's next message, which must be of `kind`; rejects when the worker fails, exits, or
 * sends another kind (a `failed` message carries its reason in `message`).
 */
export function nextMessage<M extends { kind: string }, K extends M['kind']>(worker: Worker, kind: K): Promise<Extract<M, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`a bench worker exited with ${code} before '${kind}'`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (message: M) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (message.kind === kind) resolve(message as Extract<M, { kind: K }>);
      else reject(new Error((message as { message?: string }).message ?? `a bench worker sent '${message.kind}', expected '${kind}'`));
    });
  });
}
