/** Every application of the My Number Card, in the order the runtime registers them. */
import type { AppletFactory } from '../card/card.js';
import { createJpkiApplet } from './jpki.js';
import { createJukiApplet } from './juki.js';
import { createKenhojoApplet } from './kenhojo.js';
import { createKenkakuApplet } from './kenkaku.js';

export const kMyNumberCardApplets: readonly AppletFactory[] = [createJpkiApplet, createKenhojoApplet, createKenkakuApplet, createJukiApplet];
