/**
 * The instruction registry: every INS byte the card or the host side names, beside the status-word
 * registry (status-words.ts). The card's dispatch tables are keyed by these; the host side builds
 * commands and reads traces with them instead of raw bytes.
 */

export const INS = {
  SELECT: 0xa4,
  READ_BINARY: 0xb0,
  READ_RECORD: 0xb2,
  VERIFY: 0x20,
  CHANGE_REFERENCE_DATA: 0x24,
  COMPUTE_DIGITAL_SIGNATURE: 0x2a,
  GET_CHALLENGE: 0x84,
  /** Answered by the runtime, and only with `shortLe: 61xx`. */
  GET_RESPONSE: 0xc0,
} as const;

export type InsName = keyof typeof INS;

const kNames: ReadonlyMap<number, InsName> = new Map(Object.entries(INS).map(([name, ins]) => [ins, name as InsName]));

/** 'SELECT', 'VERIFY', … for a registered INS; the byte in hex ('INS 0E') otherwise. */
export function describeIns(ins: number): string {
  return kNames.get(ins) ?? `INS ${(ins & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
}
