/**
 * The emulated card reached directly in this process: the fastest path, and the one CI uses.
 * Powering on happens at construction, as inserting a card into a reader would.
 */
import { createMemoryCard, type Card, type CardImage } from '../../emulator/index.js';
import type { ApduChannel } from '../../iso7816/apdu-channel.js';

export class InProcessChannel implements ApduChannel {
  constructor(readonly card: Card) {
    if (!card.powered) card.powerOn();
  }
  transmit(command: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.card.transmit(command));
  }
}

/** A powered in-memory copy of a card image, for code that has an image but no card (bench workers). */
export function channelForImage(image: CardImage): InProcessChannel {
  return new InProcessChannel(createMemoryCard(image));
}
