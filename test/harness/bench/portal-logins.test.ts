/**
 * The portal-login measurement on its own, in-process (no pcscd needed): every card registers in
 * the warm-up, then whole logins are counted, with latencies in order.
 */
import { describe, expect, it } from 'vitest';
import { measurePortalLogins } from '../../../harness/bench/portal-logins.js';

describe('measurePortalLogins', () => {
  it('logs two cards in again and again over HTTP and reports the rate and the latency percentiles', async () => {
    const progress: string[] = [];
    const r = await measurePortalLogins({ cards: 2, seconds: 0.5, progress: (line) => progress.push(line) });
    expect(r.cards).toBe(2);
    expect(r.clients).toBe(2);
    expect(r.rssBytes).toBeGreaterThan(0);
    expect(r.count).toBeGreaterThan(0);
    expect(r.perSec).toBeCloseTo(r.count / r.seconds, 6);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p50Ms).toBeLessThanOrEqual(r.p95Ms);
    expect(r.p95Ms).toBeLessThanOrEqual(r.p99Ms);
    expect(progress.join('\n')).toMatch(/warm-up — first login and account registration of each card/);
  }, 60_000);
});
