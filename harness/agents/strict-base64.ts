/**
 * Base64 as the wire of docs/portal-protocols.md carries it (standard alphabet, padded), read
 * strictly: Node's decoder skips characters it does not know and stops at stray padding, so a
 * corrupted field would otherwise reach the card (or the portal) as different bytes instead of
 * being refused as a bad request.
 */
import { fromBase64, type Bytes } from '../../iso7816/bytes.js';

const kBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of `text`, or undefined when it is not padded base64 in the standard alphabet. */
export function parseStrictBase64(text: unknown): Bytes | undefined {
  if (typeof text !== 'string' || !kBase64.test(text)) return undefined;
  return fromBase64(text);
}
