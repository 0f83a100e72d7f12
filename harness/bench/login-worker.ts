/**
 * The portal benchmark's load clients in a worker thread (portal-logins.ts): the cards, the PC
 * agent's card actions and the HTTP clients, apart from the portal's event loop.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { runLoginClients, type LoginWorkerInput, type LoginWorkerMessage } from './portal-logins.js';

const port = parentPort;
if (!port) throw new Error('login-worker.js runs only as a worker thread');
try {
  const { times, phases } = await runLoginClients(
    workerData as LoginWorkerInput,
    async () => {
      const [message] = (await once(port, 'message')) as [LoginWorkerMessage];
      if (message.kind !== 'window') throw new Error(`login-worker: expected a window, got ${message.kind}`);
      return message;
    },
    () => port.postMessage({ kind: 'ready' } satisfies LoginWorkerMessage),
  );
  port.postMessage({ kind: 'done', times, phases } satisfies LoginWorkerMessage);
} catch (e) {
  port.postMessage({ kind: 'failed', message: (e as Error).message } satisfies LoginWorkerMessage);
}
