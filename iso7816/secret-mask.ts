/**
 * The one place that decides how a command APDU may be written down. The data of the commands that
 * carry a PIN or password — VERIFY (20), CHANGE REFERENCE DATA (24), RESET RETRY COUNTER (2C), and
 * their odd-INS (BER-TLV) forms — is replaced by a fixed marker, `**` per byte, in every trace, log
 * and report, so a report of a lab run with a real card leaks no PIN. The header and Lc stay: a
 * reader of the trace still sees which PIN was presented and how long the value was (a wrong-length
 * PIN is worth seeing). Nothing else of a command is secret: digests to sign, AIDs, file ids.
 */
import { toHex } from './bytes.js';

/** What stands for one masked byte in a hex trace: never a hex digit, so it cannot be mistaken for data. */
export const kMaskedByte = '**';

const kSecretInstructions: ReadonlySet<number> = new Set([0x20, 0x21, 0x24, 0x25, 0x2c, 0x2d]);

/** True for a command whose data field is a PIN or password. */
export function carriesSecret(command: Uint8Array): boolean {
  return command.length > 4 && kSecretInstructions.has(command[1]!);
}

/**
 * A command APDU in hex as a trace may show it. For VERIFY, CHANGE REFERENCE DATA and RESET RETRY
 * COUNTER the data bytes become `**` (short or extended Lc kept, Le kept); a malformed one (Lc that
 * does not match) has everything after its header masked, since the PIN is in there somewhere.
 */
export function maskCommand(command: Uint8Array): string {
  const hex = toHex(command);
  if (!carriesSecret(command)) return hex;
  const n = command.length;
  if (n === 5) return hex; // case 2: Le only, no data
  const b4 = command[4]!;
  let start: number;
  let length: number;
  if (b4 !== 0) {
    start = 5;
    length = b4;
  } else if (n >= 7) {
    start = 7;
    length = (command[5]! << 8) | command[6]!;
  } else {
    start = 4;
    length = n - 4;
  }
  const trailer = n - start - length;
  // Short: no Le or a 1-byte Le; extended: no Le or a 2-byte Le. Anything else hides all but the header.
  const wellFormed = length > 0 && (trailer === 0 || trailer === (start === 5 ? 1 : 2));
  if (!wellFormed) return `${hex.slice(0, 8)}${kMaskedByte.repeat(n - 4)}`;
  return `${hex.slice(0, start * 2)}${kMaskedByte.repeat(length)}${hex.slice((start + length) * 2)}`;
}

