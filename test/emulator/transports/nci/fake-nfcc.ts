/**
 * A scripted NFC controller for the host's unit tests: it sits at the far end of an in-memory link,
 * records every packet the host writes (one write per packet, so the bytes can be checked exactly),
 * and sends what the test tells it to.
 */
import { createLinkPair, type ByteLink } from '../../../../emulator/index.js';
import { encodeMessageBytes, NciParser, type NciMessage } from '../../../../emulator/transports/nci/packet.js';
import { fromHex, toHex } from '../../../../iso7816/bytes.js';

export class FakeNfcc {
  /** The host's side of the link. */
  readonly hostLink: ByteLink;
  private readonly _link: ByteLink;
  /** Every write of the host, in hex. */
  readonly writes: string[] = [];
  private readonly _parser = new NciParser({ from: 'dh', isOpenConnection: () => true });
  private readonly _messages: NciMessage[] = [];
  private _wake: (() => void) | undefined;

  constructor(description = '/dev/ttyFAKE at 115200 baud') {
    [this.hostLink, this._link] = createLinkPair(description);
    this._link.on('data', (bytes) => {
      this.writes.push(toHex(bytes));
      for (const event of this._parser.push(bytes)) {
        if (event.kind === 'garbled') throw new Error(`the host wrote garbage: ${event.reason} (${event.sample})`);
        this._messages.push(event.message);
      }
      this._wake?.();
    });
  }

  /** The next message the host sends (commands, or data reassembled from its segments). */
  async next(timeoutMs = 3000): Promise<NciMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this._messages.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the host sent nothing within ${timeoutMs} ms (writes so far: ${this.writes.join(' ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this._wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this._wake = undefined;
    }
    return this._messages.shift()!;
  }

  /** Waits for the host's next message and checks its bytes (hex, spaces ignored). */
  async expect(hex: string, timeoutMs?: number): Promise<NciMessage> {
    const message = await this.next(timeoutMs);
    if (toHex(encodeMessageBytes(message)) !== hex.replace(/\s/g, '').toUpperCase()) {
      throw new Error(`expected the host to send ${hex}, got ${toHex(encodeMessageBytes(message))}`);
    }
    return message;
  }

  get pending(): number {
    return this._messages.length;
  }

  send(hex: string): void {
    this._link.write(fromHex(hex));
  }

  /** The far end goes away (the USB cable is pulled). */
  unplug(): void {
    void this._link.close();
  }
}

/** Response and notification bytes of a well-behaved NCI 2.0 controller. */
export const kNci2 = {
  resetRsp: '40 00 01 00',
  resetNtf: '60 00 09 02 01 20 04 04 01 02 03 04',
  // Status, features(4), 1 logical conn, routing 0x0100, max control 0xFF, HCI payload 0xFF, 1 HCI credit,
  // NFC-V frame 0x0100, 2 interfaces: Frame (no extensions), ISO-DEP (no extensions).
  initRsp: '40 01 12 00 00000000 01 0001 FF FF 01 0001 02 01 00 02 00',
  ok: (gid: number, oid: number): string => `${(0x40 | gid).toString(16)} ${oid.toString(16).padStart(2, '0')} 01 00`,
};

/** RF_INTF_ACTIVATED_NTF for ISO-DEP in listen B. */
export function activation(maxPayload: number, credits: number, techAndMode = 0x81, activationParams = ''): string {
  const params = fromHex(activationParams);
  const payload = [0x01, 0x02, 0x04, techAndMode, maxPayload, credits, 0x00, techAndMode, 0x00, 0x00, params.length, ...params];
  return toHex(Uint8Array.from([0x61, 0x05, payload.length, ...payload]));
}
