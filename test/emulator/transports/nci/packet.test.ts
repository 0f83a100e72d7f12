/**
 * The NCI packet codec: headers bit by bit, segmentation with PBF, reassembly across arbitrary
 * chunking of the byte stream, and the garbage a broken serial line produces.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controlMessage, dataMessage, encodeMessage, encodeMessageBytes, encodePacket, NciParser, type NciMessage, type NciParserEvent } from '../../../../emulator/transports/nci/packet.js';
import { fromHex, toHex } from '../../../../iso7816/bytes.js';

const messagesOf = (events: NciParserEvent[]): NciMessage[] => events.flatMap((e) => (e.kind === 'message' ? [e.message] : []));
const garbageOf = (events: NciParserEvent[]): Extract<NciParserEvent, { kind: 'garbled' }>[] => events.flatMap((e) => (e.kind === 'garbled' ? [e] : []));

describe('NCI packet encoding', () => {
  it('lays out control headers as MT|PBF|GID, OID, length', () => {
    expect(toHex(encodeMessageBytes(controlMessage('command', 0, 0, [0x01])))).toBe('20000101');
    expect(toHex(encodeMessageBytes(controlMessage('response', 1, 3, [0x00])))).toBe('41030100');
    expect(toHex(encodeMessageBytes(controlMessage('notification', 1, 5, [])))).toBe('610500');
    expect(toHex(encodePacket({ mt: 'command', pbf: true, id: 0x0f, oid: 0x3f, payload: new Uint8Array(0) }))).toBe('3F3F00');
  });

  it('lays out data headers as MT=000|PBF|ConnID, RFU, length', () => {
    expect(toHex(encodeMessageBytes(dataMessage(0, fromHex('9000'))))).toBe('0000029000');
    expect(toHex(encodePacket({ mt: 'data', pbf: true, id: 2, oid: 9, payload: fromHex('AA') }))).toBe('120001AA');
  });

  it('refuses what does not fit the header', () => {
    expect(() => encodePacket({ mt: 'data', pbf: false, id: 0, oid: 0, payload: new Uint8Array(256) })).toThrow(/at most 255/);
    expect(() => encodePacket({ mt: 'command', pbf: false, id: 16, oid: 0, payload: new Uint8Array(0) })).toThrow(/4 bits/);
    expect(() => encodePacket({ mt: 'command', pbf: false, id: 0, oid: 64, payload: new Uint8Array(0) })).toThrow(/6 bits/);
    expect(() => encodeMessage(dataMessage(0, [1]), 0)).toThrow(/max payload/);
  });

  it('segments a data message at 255 bytes with PBF on all but the last', () => {
    const payload = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const packets = encodeMessage(dataMessage(0, payload));
    expect(packets.map((p) => p.length)).toEqual([258, 258, 93]);
    expect(packets.map((p) => p[0])).toEqual([0x10, 0x10, 0x00]);
    expect(packets.map((p) => p[2])).toEqual([255, 255, 90]);
    expect(Buffer.concat(packets.map((p) => p.subarray(3)))).toEqual(Buffer.from(payload));
  });

  it('segments at a small max payload, and an exact multiple ends with a full last segment', () => {
    const packets = encodeMessage(controlMessage('notification', 1, 5, Uint8Array.from({ length: 32 }, (_, i) => i)), 16);
    expect(packets.map((p) => toHex(p.subarray(0, 3)))).toEqual(['710510', '610510']);
  });

  it('sends an empty message as one empty packet', () => {
    expect(encodeMessage(dataMessage(0, [])).map(toHex)).toEqual(['000000']);
  });
});

describe('NCI parser', () => {
  it('round-trips messages of every type and size, whatever the chunking of the stream', () => {
    const message = fc.oneof(
      fc.record({ mt: fc.constant('data' as const), connId: fc.constant(0), payload: fc.uint8Array({ maxLength: 700 }) }),
      fc.record({
        mt: fc.constantFrom('response' as const, 'notification' as const),
        gid: fc.constantFrom(0, 1, 2, 15),
        oid: fc.integer({ min: 0, max: 63 }),
        payload: fc.uint8Array({ maxLength: 600 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 255 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1 }), (msgs, maxPayload, cuts) => {
        const stream = Buffer.concat(msgs.flatMap((m) => encodeMessage(m as NciMessage, maxPayload)));
        const parser = new NciParser({ from: 'nfcc' });
        const events: NciParserEvent[] = [];
        let offset = 0;
        for (let i = 0; offset < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          events.push(...parser.push(stream.subarray(offset, offset + n)));
          offset += n;
        }
        expect(garbageOf(events)).toEqual([]);
        expect(messagesOf(events).map((m) => ({ ...m, payload: toHex(m.payload) }))).toEqual(msgs.map((m) => ({ ...m, payload: toHex(m.payload) })));
        expect(parser.hasPartialPacket).toBe(false);
        expect(parser.hasPartialMessage).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('reassembles a 2 KB data message from 255-byte segments fed one byte at a time', () => {
    const payload = Uint8Array.from({ length: 2050 }, (_, i) => (i * 7) & 0xff);
    const parser = new NciParser();
    const events: NciParserEvent[] = [];
    for (const byte of encodeMessageBytes(dataMessage(0, payload))) events.push(...parser.push(Uint8Array.of(byte)));
    expect(messagesOf(events)).toHaveLength(1);
    expect(toHex(messagesOf(events)[0]!.payload)).toBe(toHex(payload));
  });

  it('lets data packets come between the segments of a control message and the other way round', () => {
    const control = encodeMessage(controlMessage('notification', 1, 5, new Uint8Array(20).fill(0xcc)), 8);
    const data = encodeMessage(dataMessage(0, new Uint8Array(20).fill(0xdd)), 8);
    const stream = Buffer.concat([control[0]!, data[0]!, control[1]!, data[1]!, data[2]!, control[2]!]);
    const messages = messagesOf(new NciParser().push(stream));
    expect(messages.map((m) => m.mt)).toEqual(['data', 'notification']);
    expect(messages.every((m) => m.payload.length === 20)).toBe(true);
  });

  it('reports an impossible message type (MT 100–111) and resynchronises on the next packet', () => {
    const parser = new NciParser({ from: 'nfcc' });
    const events = parser.push(fromHex('80 9F E1 FF  41 03 01 00'));
    const garbage = garbageOf(events);
    expect(garbage).toHaveLength(1);
    expect(garbage[0]!.reason).toMatch(/message type 100 does not exist/);
    expect(garbage[0]!.discarded).toBe(4);
    expect(garbage[0]!.sample).toBe('809FE1FF');
    expect(messagesOf(events).map((m) => toHex(encodeMessageBytes(m)))).toEqual(['41030100']);
  });

  it('reports a data packet for a connection that does not exist', () => {
    const events = new NciParser().push(fromHex('03 00 02 90 00'));
    expect(garbageOf(events)[0]!.reason).toMatch(/connection 3, which does not exist/);
    expect(messagesOf(events)).toEqual([]);
  });

  it('reports what the sender never sends, a group that NCI does not have, and set reserved bits', () => {
    expect(garbageOf(new NciParser({ from: 'nfcc' }).push(fromHex('20 00 01 01')))[0]!.reason).toMatch(/never sends commands/);
    expect(garbageOf(new NciParser({ from: 'dh' }).push(fromHex('40 00 01 00')))[0]!.reason).toMatch(/never sends responses/);
    expect(garbageOf(new NciParser().push(fromHex('65 00 00')))[0]!.reason).toMatch(/group 5 is not an NCI group/);
    expect(garbageOf(new NciParser().push(fromHex('60 C0 00')))[0]!.reason).toMatch(/reserved bits/);
    // The simulator's side reads commands.
    expect(messagesOf(new NciParser({ from: 'dh' }).push(fromHex('20 00 01 01')))).toHaveLength(1);
  });

  it('waits for the rest of a packet, and when the line goes quiet throws the stray header away and finds the packet behind it', () => {
    const parser = new NciParser({ from: 'nfcc' });
    // 61 05 FF looks like a notification of 255 bytes; the real answer right behind it is swallowed.
    expect(parser.push(fromHex('61 05 FF 40 00 01 00'))).toEqual([]);
    expect(parser.hasPartialPacket).toBe(true);
    const events = parser.expire();
    expect(garbageOf(events)[0]!.reason).toMatch(/announced 255 payload bytes but only 4 arrived/);
    expect(garbageOf(events)[0]!.discarded).toBe(3);
    expect(messagesOf(events).map((m) => toHex(encodeMessageBytes(m)))).toEqual(['40000100']);
    expect(parser.hasPartialPacket).toBe(false);
  });

  it('drops a truncated packet whole when nothing plausible follows it', () => {
    const parser = new NciParser({ from: 'nfcc' });
    parser.push(fromHex('00 00 10 81 82 83'));
    const events = parser.expire();
    expect(messagesOf(events)).toEqual([]);
    expect(garbageOf(events).reduce((n, g) => n + g.discarded, 0)).toBe(6);
    expect(parser.hasPartialPacket).toBe(false);
    // The stream goes on cleanly afterwards.
    expect(messagesOf(parser.push(fromHex('00 00 02 90 00')))).toHaveLength(1);
  });

  it('reports a segmented control message interrupted by another control message, and keeps the newcomer', () => {
    const parser = new NciParser({ from: 'nfcc' });
    const events = parser.push(fromHex('71 05 02 AA BB  60 07 01 00'));
    expect(garbageOf(events)[0]!.reason).toMatch(/segmented notification 1\/5 was interrupted by notification 0\/7/);
    expect(messagesOf(events).map((m) => toHex(encodeMessageBytes(m)))).toEqual(['60070100']);
    expect(parser.hasPartialMessage).toBe(false);
  });

  it('refuses a reassembled message longer than the limit', () => {
    const parser = new NciParser({ maxMessageLength: 300 });
    const events = parser.push(encodeMessageBytes(dataMessage(0, new Uint8Array(400))));
    expect(garbageOf(events)[0]!.reason).toMatch(/grew past 300 bytes/);
    expect(messagesOf(events)).toEqual([]);
  });

  it('leaves nothing pending after random garbage once the line goes quiet', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (garbage) => {
        const parser = new NciParser({ from: 'nfcc' });
        parser.push(garbage);
        parser.push(encodeMessageBytes(controlMessage('response', 0, 0, [0x00])));
        parser.expire();
        // Random bytes can form plausible packets that swallow the answer; but nothing waits for ever.
        expect(parser.hasPartialPacket).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('always finds the packet behind garbage that cannot start a header, and counts every garbage byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40, min: 0x80 }), (garbage) => {
        const events = new NciParser({ from: 'nfcc' }).push(Buffer.concat([garbage, encodeMessageBytes(controlMessage('response', 0, 0, [0x00]))]));
        expect(garbageOf(events).reduce((n, g) => n + g.discarded, 0)).toBe(garbage.length);
        expect(messagesOf(events).map((m) => toHex(encodeMessageBytes(m)))).toEqual(['40000100']);
      }),
      { numRuns: 200 },
    );
  });

  it('forgets partial segments on request', () => {
    const parser = new NciParser();
    parser.push(fromHex('10 00 01 AA'));
    expect(parser.hasPartialMessage).toBe(true);
    parser.dropPartialMessages();
    expect(parser.hasPartialMessage).toBe(false);
    expect(toHex(messagesOf(parser.push(fromHex('00 00 01 BB')))[0]!.payload)).toBe('BB');
  });
});
