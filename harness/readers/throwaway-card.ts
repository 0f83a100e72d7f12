/**
 * A card issued for one measurement and thrown away with its CA: what the benchmark and doctor
 * serve when they need a card and the user gave none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCard, initCa, issueCard, kDefaultDefinition, type CardImage } from '../../emulator/index.js';
import { InProcessChannel } from './in-process-channel.js';

export interface ThrowawayCard {
  image: CardImage;
  authPin: string;
  /** A fresh in-process connection to a powered copy of the card. */
  inProcess(): InProcessChannel;
  cleanup(): void;
}

export async function issueThrowawayCard(): Promise<ThrowawayCard> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-card-'));
  try {
    const ca = initCa(join(dir, 'ca'));
    const { image } = await issueCard(ca, kDefaultDefinition);
    return {
      image,
      authPin: kDefaultDefinition.pins.auth,
      inProcess: () => new InProcessChannel(createMemoryCard(image)),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
