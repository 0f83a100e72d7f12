/**
 * A ByteLink over a serial port (the `serialport` package): the USB CDC port of the microcontroller
 * that forwards NCI between the host and a PN7150/PN7160, or one end of a pseudo-terminal pair.
 * 8 data bits, no parity, 1 stop bit, no flow control, raw mode (the binding turns off every line
 * discipline: no echo, no canonical mode, no CR/LF translation).
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { ByteLink, ByteLinkEvents } from './byte-link.js';

export const kDefaultBaudRate = 115200;

export interface SerialLinkOptions {
  path: string;
  baudRate?: number;
}

/** The few members of serialport's SerialPort this link uses (the package is loaded on demand). */
interface SerialPortLike {
  open(callback: (error: Error | null) => void): void;
  write(data: Uint8Array): boolean;
  drain(callback: (error: Error | null) => void): void;
  close(callback: (error: Error | null) => void): void;
  readonly isOpen: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: (error?: Error | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export class SerialLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SerialLinkError';
  }
}

/** Why a port does not open, with what to do about it. */
export function describeOpenError(path: string, error: Error): string {
  const text = error.message;
  if (/ENOENT|No such file/i.test(text)) return `cannot open ${path}: no such port; is the bridge plugged in? (ls /dev/ttyACM* /dev/ttyUSB*)`;
  if (/EACCES|Permission denied/i.test(text)) return `cannot open ${path}: permission denied; add yourself to the dialout group (sudo usermod -aG dialout $USER, then log in again)`;
  if (/EBUSY|Resource busy|lock/i.test(text)) return `cannot open ${path}: the port is in use by another program (ModemManager, a serial console, another jpki-hil?)`;
  return `cannot open ${path}: ${text}`;
}

const kDeviceWatchMs = 250;

class SerialLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private _closing = false;
  private _closed = false;

  /** Polls the device path: a port that vanishes can leave serialport reading 0 bytes forever (serialport/bindings-cpp#162). */
  private readonly _watch: NodeJS.Timeout;

  constructor(
    private readonly _port: SerialPortLike,
    readonly description: string,
    path: string,
  ) {
    super();
    this._watch = setInterval(() => {
      if (existsSync(path)) return;
      this._end(new Error(`${path} no longer exists`));
      if (_port.isOpen) _port.close(() => undefined);
    }, kDeviceWatchMs);
    this._watch.unref();
    _port.on('data', (chunk) => this.emit('data', new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    _port.on('close', (error) => this._end(this._closing ? undefined : (error ?? new Error('the port closed'))));
    // serialport reports write and read failures here; the port is unusable after them.
    _port.on('error', (error) => {
      if (this._closed) return;
      this._end(error);
      if (_port.isOpen) _port.close(() => undefined);
    });
  }

  write(bytes: Uint8Array): void {
    if (this._closed) throw new SerialLinkError(`${this.description} is closed`);
    this._port.write(bytes);
  }

  close(): Promise<void> {
    if (this._closed || this._closing) return Promise.resolve();
    this._closing = true;
    return new Promise((resolve) => {
      // What was written goes out before the port closes (the last command to the controller).
      this._port.drain(() => {
        if (!this._port.isOpen) {
          this._end(undefined);
          resolve();
          return;
        }
        this._port.close(() => {
          this._end(undefined);
          resolve();
        });
      });
    });
  }

  private _end(error: Error | undefined): void {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this._watch);
    this.emit('close', error);
  }
}

/** Opens a serial port as a ByteLink; rejects with a message that says what to do when it cannot. */
export async function openSerialLink(options: SerialLinkOptions): Promise<ByteLink> {
  const baudRate = options.baudRate ?? kDefaultBaudRate;
  let SerialPort: new (options: Record<string, unknown>) => SerialPortLike;
  try {
    ({ SerialPort } = (await import('serialport')) as unknown as { SerialPort: typeof SerialPort });
  } catch (e) {
    throw new SerialLinkError(`the serialport package does not load (${(e as Error).message}); run npm run setup`);
  }
  const port = new SerialPort({
    path: options.path,
    baudRate,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    rtscts: false,
    xon: false,
    xoff: false,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => (error ? reject(new SerialLinkError(describeOpenError(options.path, error))) : resolve()));
  });
  return new SerialLink(port, `${options.path} at ${baudRate} baud`, options.path);
}
