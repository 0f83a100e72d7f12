/**
 * The one mask every trace writer uses: the data of VERIFY, CHANGE REFERENCE DATA and RESET RETRY
 * COUNTER never survives, whatever the length form, while the header, Lc and Le stay readable; other
 * commands pass unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommandApdu } from '../../iso7816/apdu.js';
import { fromHex, toHex } from '../../iso7816/bytes.js';
import { maskCommand } from '../../iso7816/secret-mask.js';

const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'ascii'));

describe('maskCommand', () => {
  it('masks a short VERIFY and CHANGE REFERENCE DATA byte for byte, keeping header and Lc', () => {
    expect(maskCommand(fromHex('0020008004' + toHex(ascii('0740'))))).toBe('0020008004********');
    expect(maskCommand(fromHex('0024018004' + toHex(ascii('0962'))))).toBe('0024018004********');
    expect(maskCommand(fromHex('002C000008' + '3132333435363738'))).toBe('002C000008****************');
  });

  it('masks the extended form and keeps a trailing Le', () => {
    const extended = encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x81, data: ascii('QZSIGN77'), extended: true });
    expect(maskCommand(extended)).toBe(`00200081000008${'**'.repeat(8)}`);
    const withLe = encodeCommandApdu({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: ascii('0740'), ne: 1 });
    expect(maskCommand(withLe)).toBe('0020008004********01');
  });

  it('masks everything after the header of a malformed VERIFY (its PIN is in there somewhere)', () => {
    expect(maskCommand(fromHex('00200080083037343030'))).toBe('00200080************');
  });

  it('leaves the empty VERIFY (status query) and other commands as they are', () => {
    expect(maskCommand(fromHex('0020008000'))).toBe('0020008000');
    expect(maskCommand(fromHex('00200080'))).toBe('00200080');
    expect(maskCommand(fromHex('00A4040C0AD392F000260100000001'))).toBe('00A4040C0AD392F000260100000001');
    expect(maskCommand(fromHex('802A00800433333333'))).toBe('802A00800433333333');
  });

  it('never lets a PIN byte through, for any PIN, P2, CLA and length form', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x20, 0x24, 0x2c), fc.integer({ min: 0x80, max: 0x9f }), fc.string({ minLength: 1, maxLength: 300 }), fc.boolean(), (ins, p2, pin, extended) => {
        const data = Uint8Array.from(Buffer.from(pin, 'utf8'));
        const command = encodeCommandApdu({ cla: 0, ins, p1: ins === 0x24 ? 1 : 0, p2, data, extended });
        const masked = maskCommand(command);
        expect(masked.length).toBe(command.length * 2);
        expect(masked.endsWith('**'.repeat(data.length))).toBe(true);
        expect(masked.slice(0, 8)).toBe(toHex(command.subarray(0, 4)));
      }),
    );
  });
});
