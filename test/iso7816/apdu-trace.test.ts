import { describe, expect, it } from 'vitest';
import { traceExchange } from '../../iso7816/apdu-trace.js';
import { fromHex } from '../../iso7816/bytes.js';

describe('the APDU trace of one exchange', () => {
  it('masks the PIN of a VERIFY and names the status word from the registry', () => {
    const verify = fromHex('0020008004' + '31323334');
    const trace = traceExchange(verify, fromHex('63C2'), performance.now(), { time: '2026-12-03T00:00:00.000Z' });
    expect(trace.command).not.toContain('31323334');
    expect(trace.command.startsWith('0020008004')).toBe(true);
    expect(trace).toMatchObject({ time: '2026-12-03T00:00:00.000Z', response: '', sw: '63C2' });
    expect(trace.meaning).toMatch(/2/);
    expect(trace.durationMs).toBeGreaterThanOrEqual(0);
    expect('detail' in trace || 'torn' in trace).toBe(false);
  });

  it('keeps the response data, the card’s detail and a tear, and says why there was no answer', () => {
    const select = fromHex('00A4040C0AD392F000260100000001');
    expect(traceExchange(select, fromHex('01029000'), performance.now())).toMatchObject({ response: '0102', sw: '9000' });
    expect(traceExchange(select, fromHex('6A82'), performance.now(), { detail: 'no such AP' }).detail).toBe('no such AP');
    const torn = traceExchange(select, undefined, performance.now(), { torn: 'before', noResponse: 'power cut before the card acted' });
    expect(torn).toMatchObject({ response: '', sw: '', meaning: 'power cut before the card acted', torn: 'before' });
    expect(traceExchange(select, fromHex('90'), performance.now()).meaning).toBe('no response');
  });
});
