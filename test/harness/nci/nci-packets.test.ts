/** The simulator's TLV-list reader, which both CORE_SET_CONFIG and RF_SET_LISTEN_MODE_ROUTING go through. */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { parseTlvList } from '../../../harness/readers/nci-simulator/nci-packets.js';

describe('parseTlvList', () => {
  it('reads the count where it is told and every entry after it, an empty value included', () => {
    const config = parseTlvList(fromHex('02 3A04000041E0 5A00'), 0);
    expect(config?.map((e) => [e.tag, toHex(e.value)])).toEqual([[0x3a, '000041E0'], [0x5a, '']]);
    const routing = parseTlvList(fromHex('00 01 0103000104'), 1);
    expect(routing?.map((e) => [e.tag, toHex(e.value)])).toEqual([[0x01, '000104']]);
  });

  it('refuses a list that does not add up: too short, too long, or no count', () => {
    expect(parseTlvList(fromHex('02 3A04000041E0'), 0)).toBeUndefined();
    expect(parseTlvList(fromHex('01 3A04000041'), 0)).toBeUndefined();
    expect(parseTlvList(fromHex('01 5A00 FF'), 0)).toBeUndefined();
    expect(parseTlvList(fromHex('00'), 1)).toBeUndefined();
  });
});
