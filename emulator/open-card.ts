/** Loads a card image and builds the runtime with every applet of the My Number Card. */
import { kMyNumberCardApplets } from './applets/index.js';
import { Card, type CardRuntimeOptions } from './card/card.js';
import type { CardImage } from './image/card-image.js';
import { FileImageStore, MemoryImageStore, type CardImageStore } from './image/image-store.js';

export function createCard(store: CardImageStore, options: CardRuntimeOptions = {}): Card {
  return new Card(store, kMyNumberCardApplets, options);
}

/**
 * A card backed by its image file: every PIN-counter change is written back atomically. The
 * image stays locked to this process (as a card sits in one reader) until `closeCardFile` or exit;
 * `holder` says what holds it, for the message another opener gets.
 */
export function openCardFile(path: string, options: CardRuntimeOptions = {}, holder?: string): Card {
  return createCard(new FileImageStore(path, { holder }), options);
}

/** Lets go of a card opened with openCardFile (its image lock); a memory card has nothing to release. */
export function closeCardFile(card: Card): void {
  card.store.close?.();
}

/** A card that forgets its state when dropped (benchmarks, property tests). */
export function createMemoryCard(image: CardImage, options: CardRuntimeOptions = {}): Card {
  return createCard(new MemoryImageStore(structuredClone(image)), options);
}
