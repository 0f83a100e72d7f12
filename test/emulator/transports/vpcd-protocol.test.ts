/**
 * The vpcd wire protocol from the driver's side: a TCP server in the test plays pcscd's vpcd
 * (it listens; the card connects), so that framing, control bytes, tearing, latency and
 * reconnection are checked byte for byte without pcscd.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCard, ServedCard, VpcdConnection, type CardImage, type TraceRecord } from '../../../emulator/index.js';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { issueFixture, tempDir } from '../../support/cards.js';
import { eventually } from '../../support/served-card.js';

/** The driver side: frames in, frames out, as vpcd.c does. */
class FakeVpcd {
  server: Server;
  socket: Socket | undefined;
  private _buffer = Buffer.alloc(0);
  /** Every frame from the card, in order. */
  frames: Buffer[] = [];
  chunks = 0;
  connections = 0;

  constructor() {
    this.server = createServer((socket) => {
      this.connections++;
      this.socket = socket;
      socket.on('data', (d: Buffer) => {
        this.chunks++;
        this._buffer = Buffer.concat([this._buffer, d]);
        while (this._buffer.length >= 2 && this._buffer.length >= 2 + this._buffer.readUInt16BE(0)) {
          const n = this._buffer.readUInt16BE(0);
          this.frames.push(this._buffer.subarray(2, 2 + n));
          this._buffer = this._buffer.subarray(2 + n);
        }
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
    });
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)));
  }

  send(payload: Uint8Array): void {
    const frame = Buffer.alloc(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    this.socket!.write(frame);
  }

  async exchange(payload: Uint8Array): Promise<Buffer> {
    const before = this.frames.length;
    this.send(payload);
    await eventually(() => this.frames.length > before, 'a frame from the card', 5000);
    return this.frames[before]!;
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('vpcd protocol, card side', () => {
  const dir = tempDir();
  let image: CardImage;
  let vpcd: FakeVpcd;
  let connection: VpcdConnection | undefined;

  beforeAll(async () => {
    ({ image } = await issueFixture(dir.path, 'adult'));
  });
  afterAll(() => dir.remove());
  afterEach(async () => {
    connection?.stop();
    await vpcd?.close();
  });

  async function start(trace?: (r: TraceRecord) => void): Promise<{ served: ServedCard; port: number }> {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const served = new ServedCard(createMemoryCard(image), trace);
    connection = new VpcdConnection(served, { host: '127.0.0.1', port, retryMs: 50 });
    void connection.insert();
    await eventually(() => vpcd.socket !== undefined, 'the card to connect');
    return { served, port };
  }

  it('answers the ATR poll at any time, also powered off, and each APDU with exactly one frame in one write', async () => {
    const { served } = await start();
    // The card counts as inserted only once vpcd has polled it.
    expect(connection!.state).toBe('connecting');
    expect(toHex(await vpcd.exchange(Uint8Array.of(0x04)))).toBe('3B888001000041E0B381A1003B');
    await eventually(() => connection!.state === 'inserted', 'inserted');
    vpcd.send(Uint8Array.of(0x01));
    const chunksBefore = vpcd.chunks;
    expect(toHex(await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001')))).toBe('9000');
    expect(vpcd.chunks - chunksBefore).toBe(1);
    const cert = await vpcd.exchange(fromHex('00A4020C02000A'));
    expect(toHex(cert)).toBe('9000');
    const read = await vpcd.exchange(fromHex('00B0000000'));
    expect(read.length).toBe(258);
    expect(served.card.powered).toBe(true);
    vpcd.send(Uint8Array.of(0x00));
    await eventually(() => !served.card.powered, 'power off');
    expect(toHex(await vpcd.exchange(Uint8Array.of(0x04)))).toBe('3B888001000041E0B381A1003B');
  });

  it('reassembles frames however TCP cuts them: header and payload apart (as vpcd.c sends them), cut mid-payload, several in one segment', async () => {
    await start();
    vpcd.send(Uint8Array.of(0x04));
    await eventually(() => connection!.state === 'inserted', 'inserted');
    const framed = (hex: string): Buffer => {
      const payload = fromHex(hex);
      const out = Buffer.alloc(2 + payload.length);
      out.writeUInt16BE(payload.length, 0);
      out.set(payload, 2);
      return out;
    };
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));
    const answers = async (count: number): Promise<string[]> => {
      await eventually(() => vpcd.frames.length >= count, `${count} answers`, 5000);
      return vpcd.frames.splice(0, count).map((f) => toHex(f));
    };
    vpcd.frames.length = 0;
    vpcd.socket!.setNoDelay(true);
    // SELECT of the JPKI AP: the 2-byte length alone, then the payload in two pieces. Each piece
    // is a read of its own into the connection's one read buffer, so a kept piece must be a copy.
    const select = framed('00A4040C0AD392F000260100000001');
    for (const piece of [select.subarray(0, 2), select.subarray(2, 9), select.subarray(9)]) {
      vpcd.socket!.write(piece);
      await pause();
    }
    expect(await answers(1)).toEqual(['9000']);
    // Three commands in one segment, the last one cut after its first byte; then the rest.
    const many = Buffer.concat([framed('00A4020C020006'), framed('00A4020C0200FF'), framed('00A4020C020018')]);
    vpcd.socket!.write(many.subarray(0, many.length - 6));
    await pause();
    vpcd.socket!.write(many.subarray(many.length - 6));
    expect(await answers(3)).toEqual(['9000', '6A82', '9000']);
    // A tries-left VERIFY on the PIN EF selected last: the state carried across the cuts.
    expect(toHex(await vpcd.exchange(fromHex('00200080')))).toMatch(/^63C[0-9A-F]$/);
  });

  it('treats power on and reset as card resets: verified PINs are gone', async () => {
    await start();
    vpcd.send(Uint8Array.of(0x01));
    await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001'));
    await vpcd.exchange(fromHex('00A4020C020018'));
    expect(toHex(await vpcd.exchange(fromHex(`0020008004${toHex(Buffer.from(image.pins.auth.value))}`)))).toBe('9000');
    await vpcd.exchange(fromHex('00A4020C020017'));
    vpcd.send(Uint8Array.of(0x02));
    await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001'));
    await vpcd.exchange(fromHex('00A4020C020017'));
    expect(toHex(await vpcd.exchange(fromHex('802A00800130' + '00')))).toBe('6982');
  });

  it('tears before and after a command: no response, the card leaves the reader, and the state shows which', async () => {
    const traces: TraceRecord[] = [];
    const { served } = await start((r) => traces.push(r));
    vpcd.send(Uint8Array.of(0x01));
    await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001'));
    await vpcd.exchange(fromHex('00A4020C020018'));
    const pins = served.card.store.image.pins;
    served.armTear({ ins: 0x20, when: 'before' });
    vpcd.send(fromHex('002000800430303030'));
    await eventually(() => connection!.state === 'removed', 'the card to be pulled');
    expect(pins.auth.remaining).toBe(3);
    await eventually(() => vpcd.socket === undefined, 'the connection to close');

    void connection!.insert();
    await eventually(() => vpcd.socket !== undefined, 'reinsertion');
    vpcd.send(Uint8Array.of(0x01));
    await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001'));
    await vpcd.exchange(fromHex('00A4020C020018'));
    served.armTear({ ins: 0x20, when: 'after' });
    vpcd.send(fromHex('002000800430303030'));
    await eventually(() => connection!.state === 'removed', 'the card to be pulled after the VERIFY');
    // The wrong PIN took effect: one try is gone, though no answer ever left the card.
    expect(pins.auth.remaining).toBe(2);
    expect(traces.filter((t) => t.torn).map((t) => [t.torn, t.sw])).toEqual([
      ['before', ''],
      ['after', '63C2'],
    ]);
  });

  it('delays the responses of one INS by the injected latency', async () => {
    const { served } = await start();
    vpcd.send(Uint8Array.of(0x01));
    served.setLatency(0xa4, 150);
    const t = performance.now();
    await vpcd.exchange(fromHex('00A4040C0AD392F000260100000001'));
    expect(performance.now() - t).toBeGreaterThanOrEqual(145);
    expect(served.latency).toEqual({ A4: 150 });
  });

  it('reconnects when vpcd goes away and comes back (pcscd restart)', async () => {
    const { port } = await start();
    await vpcd.exchange(Uint8Array.of(0x04));
    await vpcd.close();
    await eventually(() => connection!.state === 'connecting', 'the card to notice');
    vpcd = new FakeVpcd();
    await vpcd.listen(port);
    await eventually(() => vpcd.socket !== undefined, 'the card to reconnect', 5000);
    expect(toHex(await vpcd.exchange(Uint8Array.of(0x04)))).toBe('3B888001000041E0B381A1003B');
    await eventually(() => connection!.state === 'inserted', 'inserted again');
  });
});
