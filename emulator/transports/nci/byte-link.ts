/**
 * What the NCI host needs from the line to the controller: bytes out, bytes in, and word when the
 * line goes away. A serial port is one (serial-link.ts); an in-memory pair is another, for tests
 * and for a controller simulator in the same process.
 */
import { EventEmitter } from 'node:events';

export interface ByteLinkEvents {
  data: [bytes: Uint8Array];
  /** The link is gone: with an error when it went away on its own, without when `close()` ended it. */
  close: [error?: Error];
}

export interface ByteLink {
  /** Where the link goes, for messages: "/dev/ttyACM0 at 115200 baud". */
  readonly description: string;
  write(bytes: Uint8Array): void;
  on<E extends keyof ByteLinkEvents>(event: E, listener: (...args: ByteLinkEvents[E]) => void): unknown;
  off<E extends keyof ByteLinkEvents>(event: E, listener: (...args: ByteLinkEvents[E]) => void): unknown;
  close(): void | Promise<void>;
}

class MemoryLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  peer: MemoryLink | undefined;
  closed = false;

  constructor(readonly description: string) {
    super();
  }

  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error(`${this.description} is closed`);
    const peer = this.peer;
    const copy = Uint8Array.from(bytes);
    // Asynchronous like a real line: the writer's code runs to its end before the reader sees anything.
    setImmediate(() => {
      if (peer && !peer.closed) peer.emit('data', copy);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // After the bytes already written: they reach the other end first, as on a real line.
    setImmediate(() => {
      this.emit('close', undefined);
      this.peer?._end(new Error(`the other end of ${this.description} closed`));
    });
  }

  _end(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', error);
  }
}

/** Two links joined back to back: what one writes, the other reads. Closing one closes the other with an error. */
export function createLinkPair(description = 'in-memory link'): [ByteLink, ByteLink] {
  const a = new MemoryLink(description);
  const b = new MemoryLink(description);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
