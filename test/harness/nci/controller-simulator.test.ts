/**
 * The controller simulator on its own, over a real pty pair, against a device host scripted byte by
 * byte here: it must answer the contract's initialisation, activate only a listening DH, segment
 * C-APDUs, reassemble R-APDUs, grant credits, catch a DH that breaks the rules, present the ATQB the
 * listen-B parameters describe, pace the line at the baud rate, and inject each fault as promised.
 */
import { existsSync, realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../iso7816/bytes.js';
import { SimulatedNciController, type SimulatedNciControllerOptions } from '../../../harness/readers/nci-simulator/controller.js';
import { NciReader, pcscAtrFromAtqb } from '../../../harness/readers/nci-simulator/nci-reader.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../../../harness/readers/nci-simulator/pty-pair.js';
import { kAtrPresets } from '../../../emulator/index.js';

if (!socatAvailable()) throw new Error('socat is missing: the NCI simulator tests need it (apt-get install -y socat, or bash scripts/setup.sh --pcsc)');

/** The DH's side of the line, scripted: raw packets out, parsed packets in. */
class ScriptedHost {
  readonly received: string[] = [];
  private _buffer = Buffer.alloc(0);
  private _waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      this._buffer = Buffer.concat([this._buffer, chunk]);
      while (this._buffer.length >= 3 && this._buffer.length >= 3 + this._buffer[2]!) {
        const length = 3 + this._buffer[2]!;
        this.received.push(this._buffer.subarray(0, length).toString('hex').toUpperCase());
        this._buffer = this._buffer.subarray(length);
      }
      for (const wake of this._waiters.splice(0)) wake();
    });
    port.on('close', () => {
      this.closed = true;
      for (const wake of this._waiters.splice(0)) wake();
    });
  }

  static async open(path: string): Promise<ScriptedHost> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    return new ScriptedHost(port);
  }

  /** Bytes not yet a whole packet. */
  get partial(): string {
    return this._buffer.toString('hex').toUpperCase();
  }

  send(hex: string): Promise<void> {
    return new Promise((resolve) => this.port.write(Buffer.from(hex.replace(/\s/g, ''), 'hex'), () => resolve()));
  }

  /** Resolves with (and removes) the first received packet matching `prefix`, waiting up to 3 s. */
  async next(prefix: string, timeoutMs = 3000): Promise<string> {
    const wanted = prefix.replace(/\s/g, '').toUpperCase();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((p) => p.startsWith(wanted));
      if (index >= 0) return this.received.splice(index, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no packet ${wanted} within ${timeoutMs} ms; got: ${this.received.join(' ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this._waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async command(hex: string, responsePrefix: string): Promise<string> {
    await this.send(hex);
    return this.next(responsePrefix);
  }

  close(): Promise<void> {
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

/** The contract's initialisation for the default card: listen B with its Application Data and Protocol Info bytes. */
async function initialise(host: ScriptedHost, version: '1.0' | '2.0' = '2.0'): Promise<void> {
  if (version === '2.0') {
    expect(await host.command('20 00 01 01', '40 00')).toBe('40000100');
    expect(await host.next('60 00')).toMatch(/^600005020120/);
    expect(await host.command('20 01 02 00 00', '40 01')).toMatch(/^4001..00/);
  } else {
    expect(await host.command('20 00 01 01', '40 00')).toBe('400003001001');
    expect(await host.command('20 01 00', '40 01')).toMatch(/^4001..00/);
  }
  // LB_SENSB_INFO 81, LB_APPLICATION_DATA 000041E0, LB_FWI_ADC_FO A1, LB_BIT_RATE 02, RF_FIELD_INFO 01.
  expect(await host.command('20 02 13 05 38 01 81 3A 04 00 00 41 E0 3C 01 A1 3E 01 02 80 01 01', '40 02')).toBe('4002020000');
  expect(await host.command('21 00 04 01 04 02 02', '41 00')).toBe('41000100');
  expect(await host.command('21 01 07 00 01 01 03 00 01 04', '41 01')).toBe('41010100');
  expect(await host.command('21 03 03 01 81 01', '41 03')).toBe('41030100');
}

describe('the pty pair', () => {
  it('makes two linked ttys and removes them on close; without socat it says how to install it', async () => {
    const pair = await openPtyPair();
    expect(realpathSync(pair.a)).toMatch(/^\/dev\/pts\/\d+$/);
    expect(realpathSync(pair.b)).not.toBe(realpathSync(pair.a));
    await pair.close();
    expect(pair.closed).toBe(true);
    expect(existsSync(pair.a)).toBe(false);
    await pair.close();
    await expect(openPtyPair({ socat: '/nonexistent/socat' })).rejects.toThrow(/socat is not installed: .*apt-get install -y socat/);
  });
});

describe('the NCI controller simulator over a pty pair', () => {
  let pty: PtyPair;
  let host: ScriptedHost;
  let controller: SimulatedNciController;
  const logs: string[] = [];

  async function start(options: Partial<SimulatedNciControllerOptions> = {}): Promise<void> {
    controller = await SimulatedNciController.open({ path: pty.b, pty, log: (l) => logs.push(l), ...options });
  }

  beforeEach(async () => {
    logs.length = 0;
    pty = await openPtyPair();
    host = await ScriptedHost.open(pty.a);
  });
  afterEach(async () => {
    await controller?.close();
    await host?.close();
    await pty?.close();
  });

  it('answers the initialisation, records the listen-B parameters, and activates only once the DH listens', async () => {
    await start();
    await expect(controller.activate({ timeoutMs: 200 })).rejects.toThrow(/did not start listening within 200 ms \(controller powered/);
    await initialise(host);
    expect(controller.state).toBe('discovering');
    expect(toHex(controller.config.get(0x3a)!)).toBe('000041E0');
    expect(controller.commands).toEqual(['CORE_RESET_CMD', 'CORE_INIT_CMD', 'CORE_SET_CONFIG_CMD', 'RF_DISCOVER_MAP_CMD', 'RF_SET_LISTEN_MODE_ROUTING_CMD', 'RF_DISCOVER_CMD']);

    const activation = await controller.activate({ pupi: fromHex('11223344') });
    expect(toHex(activation.atqb)).toBe('5011223344000041E0B381A1');
    // The PC/SC part 3 ATR from that ATQB is the card definition's contactless ATR.
    expect(toHex(pcscAtrFromAtqb(activation.atqb))).toBe(kAtrPresets.contactless);
    expect(await host.next('61 07')).toBe('61070101');
    // ISO-DEP, NFC-B listen, 255-byte packets, 1 credit, no tech parameters, 106 kbit/s, no higher-layer info.
    expect(await host.next('61 05')).toBe('61050B010204' + '81FF01' + '00' + '810000' + '00');
    // LB_SENSB_INFO with the ISO-DEP bit alone: the controller adds its own frame size (256 bytes).
    expect(await host.command('20 02 04 01 38 01 01', '40 02')).toBe('4002020000');
    expect(toHex(controller.atqb(fromHex('11223344')))).toBe('5011223344000041E0B381A1');
    expect(controller.violations).toEqual([]);
  });

  it('activates right behind RF_DISCOVER_RSP when a reader is already in the field', async () => {
    await start();
    const activated = controller.activateOnNextDiscover();
    await initialise(host);
    expect((await activated).number).toBe(1);
    expect(await host.next('61 07')).toBe('61070101');
    expect(await host.next('61 05')).toMatch(/^61050B010204/);
    expect(controller.state).toBe('active');
  });

  it('segments a long C-APDU, reassembles a segmented R-APDU, and gives a credit back for each packet', async () => {
    await start({ maxDataPayload: 16, forwardSegmentSize: 8 });
    await initialise(host);
    await controller.activate();
    await host.next('61 05');
    const command = fromHex('00A4040C0AD392F000260100000001');
    const exchange = controller.transmit(command);
    expect(await host.next('10 00 08')).toBe('100008' + '00A4040C0AD392F0');
    expect(await host.next('00 00 07')).toBe('000007' + '00260100000001');
    // The R-APDU in two packets of at most 16 bytes, waiting for the credit between them.
    const response = Buffer.alloc(20, 0xab);
    response[18] = 0x90;
    response[19] = 0x00;
    await host.send('100010' + response.subarray(0, 16).toString('hex'));
    expect(await host.next('60 06')).toBe('6006' + '03010001');
    await host.send('000004' + response.subarray(16).toString('hex'));
    expect(toHex(await exchange)).toBe(response.toString('hex').toUpperCase());
    expect(await host.next('60 06')).toBe('600603010001');
    expect(controller.dhCredits).toBe(1);
    expect(controller.violations).toEqual([]);
  });

  it('catches a DH that sends without a credit or sends more than the packet size, and fails that exchange', async () => {
    await start({ maxDataPayload: 16 });
    await initialise(host);
    await controller.activate();
    await host.next('61 05');
    controller.stallCredits(5000);
    const first = controller.transmit(fromHex('00A4020C020006'));
    await host.next('00 00 07');
    await host.send('10 00 02 AB CD');
    await host.send('00 00 02 90 00');
    await expect(first).rejects.toThrow(/without a credit/);
    expect(controller.violations).toEqual([expect.stringMatching(/without a credit/)]);
    // The reader gave up and dropped the field: RF_DEACTIVATE_NTF (discovery, link loss), field off.
    expect(await host.next('61 06')).toBe('6106020302');
    expect(await host.next('61 07 01 00')).toBe('61070100');

    await controller.activate();
    controller.stallCredits(0);
    const second = controller.transmit(fromHex('00A4020C020006'));
    await host.next('00 00 07');
    await host.send('00 00 11' + '00'.repeat(17));
    await expect(second).rejects.toThrow(/17 bytes; the RF connection's max data packet payload is 16/);
  });

  it('answers a DH deactivation, and speaks NCI 1.0 when told to', async () => {
    await start({ nciVersion: '1.0' });
    await initialise(host, '1.0');
    const reader = new NciReader(controller);
    expect(reader.cardPresent()).toBe(true);
    expect(toHex(reader.atr()!)).toBe(kAtrPresets.contactless);
    const removed = new Promise<void>((resolve) => reader.once('removed', resolve));
    const connection = await reader.connect();
    await host.next('61 05');
    expect(await host.command('21 06 01 00', '41 06')).toBe('41060100');
    expect(await host.next('61 06')).toBe('6106020000');
    expect(controller.state).toBe('idle');
    await removed;
    await expect(connection.transmit(fromHex('00A4020C020006'))).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    await reader.close();
    expect(controller.violations).toEqual([]);
  });

  it('paces the line: 100 bytes take about 8.7 ms at 115200 baud', async () => {
    await start({ baudRate: 115200, maxDataPayload: 255 });
    await initialise(host);
    await controller.activate();
    await host.next('61 05');
    const command = new Uint8Array(97).fill(0x11);
    const started = performance.now();
    const exchange = controller.transmit(command);
    await host.next('00 00 61');
    const oneWay = performance.now() - started;
    await host.send('00 00 02 90 00');
    await exchange;
    expect(oneWay).toBeGreaterThan(8);
    expect(oneWay).toBeLessThan(60);
  });

  it('resets itself, injects garbage and a truncated packet; vanish() takes the pty away', async () => {
    await start();
    await initialise(host);
    await controller.resetController();
    // Unrecoverable error, configuration reset, NCI 2.0: and everything it knew is gone.
    expect(await host.next('60 00')).toBe('6000050001200000');
    expect(controller.state).toBe('reset');
    expect(controller.config.size).toBe(0);
    expect(controller.listensAsTypeB()).toBe(false);
    await initialise(host);

    await controller.injectGarbage();
    await controller.sendTruncatedPacket();
    await new Promise((r) => setTimeout(r, 100));
    // The garbage has reserved message types; the truncated RF_INTF_ACTIVATED_NTF stops halfway.
    expect(host.partial).toBe('FFA5C399EE81F0B7' + '61050B01020481');
    expect(host.received).toEqual([]);

    const vanished = controller.vanish();
    await vanished;
    expect(pty.closed).toBe(true);
    expect(controller.state).toBe('gone');
    await expect(controller.activate()).rejects.toThrow(/gone/);
  });
});
