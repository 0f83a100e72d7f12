/**
 * The emulated card reached directly in this process: the fastest path, and the one CI uses.
 * Powering on happens at construction, as inserting a card into a reader would.
 */
import type { Card } from '../../emulator/index.js';
import type { ApduChannel } from '../jpki/jpki-client.js';

export class InProcessChannel implements ApduChannel {
  constructor(readonly card: Card) {
    if (!card.powered) card.powerOn();
  }
  transmit(command: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.card.transmit(command));
  }
}
