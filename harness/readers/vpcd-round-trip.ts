/**
 * Serves a card image into a free vpcd slot from this process and hands a PC/SC connection to it
 * to `use` — the whole real path (PC/SC client → pcscd → vpcd → our card) for the benchmark and
 * for doctor's round-trip measurement.
 */
import { createMemoryCard, kVpcdPort, ServedCard, VpcdConnection, type CardImage } from '../../emulator/index.js';
import type { CardConnection } from './reader.js';
import { PcscReaderProvider } from './pcsc-reader.js';
import { percentile } from '../stats/percentile.js';

const kSlotReaders = ['Virtual PCD 00 00', 'Virtual PCD 00 01'];

export async function withServedVpcdCard<T>(image: CardImage, options: { host: string; slot?: number }, use: (channel: CardConnection) => Promise<T>): Promise<T> {
  const provider = new PcscReaderProvider();
  try {
    const listing = await provider.list();
    const free = kSlotReaders.map((name, slot) => ({ name, slot, entry: listing.find((r) => r.name === name) }));
    const pick = options.slot !== undefined ? free[options.slot] : free.find((s) => s.entry && !s.entry.cardPresent);
    if (!pick?.entry) throw new Error(`no vpcd reader${options.slot !== undefined ? ` for slot ${options.slot}` : ''} without a card (readers: ${listing.map((r) => `${r.name}${r.cardPresent ? ' [card]' : ''}`).join(', ') || 'none'})`);
    if (pick.entry.cardPresent) throw new Error(`${pick.name} already holds a card`);

    const served = new ServedCard(createMemoryCard(image));
    const vpcd = new VpcdConnection(served, { host: options.host, port: kVpcdPort + pick.slot });
    const inserted = vpcd.insert();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`vpcd at ${options.host}:${kVpcdPort + pick.slot} did not take the card within 5 s`)), 5000).unref());
    try {
      await Promise.race([inserted, timeout]);
      const reader = await provider.open(pick.name);
      try {
        await reader.waitForCard(5000);
        const connection = await reader.connect();
        try {
          return await use(connection);
        } finally {
          await connection.disconnect('unpower').catch(() => undefined);
        }
      } finally {
        await reader.close();
      }
    } finally {
      vpcd.stop();
    }
  } finally {
    await provider.close();
  }
}

/** The median APDU round trip through pcscd to a card served here (doctor's measurement). */
export async function measureVpcdRoundTrip(options: { host: string; slot?: number; count: number; image: CardImage }): Promise<{ medianMs: number; count: number; reader: string }> {
  return withServedVpcdCard(options.image, options, async (channel) => {
    const select = Uint8Array.from(Buffer.from('00A4040C0AD392F000260100000001', 'hex'));
    const times: number[] = [];
    for (let i = 0; i < options.count; i++) {
      const t = performance.now();
      await channel.transmit(select);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { medianMs: percentile(times, 50), count: times.length, reader: channel.readerName };
  });
}
