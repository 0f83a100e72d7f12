/**
 * One HTTP exchange for revocation data, with a deadline and an error that says what was fetched
 * from where: the message ends up in a 503 answer, so it must let someone fix the set-up.
 */

export type FetchFunction = typeof fetch;

export async function fetchBinary(fetchFn: FetchFunction, url: string, init: RequestInit, timeoutMs: number, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const error = e as Error & { cause?: { code?: string; message?: string } };
    const cause = error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error.cause?.code ?? error.cause?.message ?? error.message);
    throw new Error(`cannot fetch the ${what} from ${url}: ${cause}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`cannot fetch the ${what} from ${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}
