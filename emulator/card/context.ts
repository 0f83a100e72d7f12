/**
 * The state of one powered card session: which AP and EF are current, which PINs are verified.
 * It lives in memory only and is cleared by power-off and reset; SELECT of an AP changes it as
 * the `securityOnApSwitch` and `securityOnReselect` options say.
 */
import type { KeyObject } from 'node:crypto';
import type { Bytes } from '../../iso7816/bytes.js';
import type { CardImageStore } from '../image/image-store.js';
import type { Applet } from './applet.js';
import type { ElementaryFile, KeyId, PinId } from './file-system.js';
import type { CardOptions } from './options.js';

export interface CardHooks {
  /**
   * Called after a VERIFY has written the decremented counter and before the PIN is compared.
   * Tests use it to look at the image on disk at exactly that moment; fault injection to tear.
   */
  beforePinCompare?(pin: PinId): void;
}

export interface CardContext {
  readonly store: CardImageStore;
  readonly options: CardOptions;
  readonly hooks: CardHooks;
  readonly keys: ReadonlyMap<KeyId, KeyObject>;
  applet: Applet | undefined;
  currentEf: ElementaryFile | undefined;
  readonly verified: Set<PinId>;
  /** With `shortLe: 61xx`, the part of the last answer that GET RESPONSE has still to give. */
  pendingResponse: Bytes | undefined;
}
