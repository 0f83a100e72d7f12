/**
 * Where a scenario's card sits, and what the runner can do to it there. Three kinds:
 * - `emulator`: an in-process reader holding the scenario's own emulated card (CI's path);
 * - `vpcd`: the same card served to the real pcscd through a vpcd slot, read back over PC/SC — the
 *   path a USB reader takes;
 * - `physical`: a reader the harness does not serve (a real card, an NFC bridge); the runner can
 *   read it but cannot take its card out, so card actions there are operator work.
 * Every kind is wrapped in a RecordingReader, which keeps the APDU trace and does the tearing.
 */
import { createMemoryCard, kVpcdPort, ServedCard, VpcdConnection, type Card, type CardImage } from '../../emulator/index.js';
import { InProcessReader } from '../readers/in-process-reader.js';
import { defaultVpcdHost } from '../readers/pcsc-environment.js';
import type { PcscReaderProvider } from '../readers/pcsc-reader.js';
import { ReaderError, type Reader } from '../readers/reader.js';
import { RecordingReader, type ApduTraceEntry } from '../readers/recording-reader.js';
import { harnessDefect, labProblem } from './failures.js';

export type ReaderChoice = { kind: 'emulator' } | { kind: 'pcsc'; name?: string | undefined };

export interface CardSlot {
  /** The card as the device delivers it: through the profile shim when there is one, traced. */
  readonly reader: RecordingReader;
  /** The card as the harness checks it (expectCard, health checks): past any profile, traced. */
  readonly checks: RecordingReader;
  readonly kind: 'emulator' | 'vpcd' | 'physical';
  /** The emulated card, when the harness holds it (not for physical readers). */
  readonly card: Card | undefined;
  /** Whether the scenario took the card out on purpose (so that a missing card is not the lab's fault). */
  removedOnPurpose: boolean;
  remove(): Promise<void>;
  insert(): Promise<void>;
  close(): Promise<void>;
}

/** The reader name pcscd gives a vpcd slot. */
export const vpcdReaderName = (slot: number): string => `Virtual PCD 00 0${slot}`;

/** A vpcd reader name ("Virtual PCD 00 01") → its slot, else undefined. */
export function vpcdSlotOf(name: string): number | undefined {
  const m = /^Virtual PCD 00 0(\d)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export interface SlotOptions {
  image: CardImage;
  /** A number unique in the run: names the in-process reader, picks the vpcd slot. */
  index: number;
  onApdu: (entry: ApduTraceEntry) => void;
  /**
   * Puts a device between the reader and everyone who uses it (the profile shim); `powerCycle`
   * takes the card out of the field and back.
   */
  wrap?: ((reader: Reader, powerCycle: () => Promise<void>) => Reader) | undefined;
  /** For pcsc: the run's provider (one binding per run). */
  provider?: PcscReaderProvider | undefined;
  log?: (line: string) => void;
}

export async function openCardSlot(choice: ReaderChoice, options: SlotOptions): Promise<CardSlot> {
  if (choice.kind === 'emulator') return emulatorSlot(options);
  const provider = options.provider;
  if (!provider) throw harnessDefect('a PC/SC card slot needs the run\'s reader provider');
  const wanted = choice.name ?? vpcdReaderName(options.index);
  const slot = vpcdSlotOf(wanted);
  if (slot !== undefined) return vpcdSlot(provider, slot, options);
  return physicalSlot(provider, wanted, options);
}

function emulatorSlot(options: SlotOptions): CardSlot {
  const card = createMemoryCard(options.image);
  const inner = new InProcessReader(`Emulated reader ${options.index}`, card);
  const self: CardSlot = {
    kind: 'emulator',
    card,
    removedOnPurpose: false,
    checks: new RecordingReader(inner, { onApdu: options.onApdu }),
    reader: new RecordingReader(shaped(inner, options, async () => {
      inner.remove();
      inner.insert();
    }), { onApdu: options.onApdu, cutPower: () => inner.remove() }),
    remove: () => {
      inner.remove();
      return Promise.resolve();
    },
    insert: () => {
      if (!inner.cardPresent()) inner.insert();
      return Promise.resolve();
    },
    close: () => inner.close(),
  };
  return self;
}

async function vpcdSlot(provider: PcscReaderProvider, slot: number, options: SlotOptions): Promise<CardSlot> {
  const card = createMemoryCard(options.image);
  const served = new ServedCard(card);
  const vpcd = new VpcdConnection(served, { host: defaultVpcdHost(), port: kVpcdPort + slot, ...(options.log ? { log: options.log } : {}) });
  const name = vpcdReaderName(slot);
  await withTimeout(vpcd.insert(), 10_000, `vpcd slot ${slot} did not accept the card within 10 s: is pcscd running with the vpcd driver? (jpki-hil doctor)`);
  let inner: Reader;
  try {
    inner = await provider.open(name);
    await inner.waitForCard(10_000);
  } catch (e) {
    vpcd.stop();
    throw e;
  }
  const waitPresent = async (present: boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (inner.cardPresent() !== present) {
      if (Date.now() > deadline) throw labProblem(`pcscd did not see the card ${present ? 'inserted into' : 'removed from'} "${name}" within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // pcscd carries the bytes only; the card served from this process still knows why it answered.
  const explain = (command: Uint8Array, response: Uint8Array): string | undefined => served.detailOf(command, response);
  const remove = async (): Promise<void> => {
    vpcd.remove();
    await waitPresent(false);
  };
  return {
    kind: 'vpcd',
    card,
    removedOnPurpose: false,
    checks: new RecordingReader(inner, { onApdu: options.onApdu, explain }),
    reader: new RecordingReader(shaped(inner, options, async () => {
      await remove();
      await vpcd.insert();
    }), { onApdu: options.onApdu, cutPower: remove, explain }),
    remove,
    insert: async () => {
      await vpcd.insert();
      await waitPresent(true);
    },
    close: async () => {
      vpcd.stop();
      // The provider keeps its readers; it is closed once, by the run.
      await Promise.resolve();
    },
  };
}

async function physicalSlot(provider: PcscReaderProvider, name: string, options: SlotOptions): Promise<CardSlot> {
  const inner = await provider.open(name);
  const refuse = (what: string) => (): Promise<void> =>
    Promise.reject(harnessDefect(`cannot ${what} the card in "${inner.name}": the harness does not serve it; use an operator step to ask for it`));
  return {
    kind: 'physical',
    card: undefined,
    removedOnPurpose: false,
    checks: new RecordingReader(inner, { onApdu: options.onApdu }),
    reader: new RecordingReader(
      shaped(inner, options, () => Promise.reject(labProblem(`cannot take the card in "${inner.name}" out of the field: the harness does not serve it`))),
      { onApdu: options.onApdu },
    ),
    remove: refuse('remove'),
    insert: refuse('insert'),
    close: () => Promise.resolve(),
  };
}

function shaped(reader: Reader, options: SlotOptions, powerCycle: () => Promise<void>): Reader {
  return options.wrap ? options.wrap(reader, powerCycle) : reader;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReaderError('TIMEOUT', message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
