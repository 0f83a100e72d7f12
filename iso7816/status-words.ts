/**
 * The status-word registry: every SW the card can answer, with its meaning. The card side
 * throws `CardError(SW.X)`; traces and reports decode with `describeSw`. `63Cx` is a family
 * (x = tries left) and is registered as such.
 */

export const SW = {
  OK: 0x9000,
  /** 61xx: xx more bytes wait for GET RESPONSE (00 = 256 or more). */
  BYTES_REMAINING_BASE: 0x6100,
  /** 6Cxx: wrong Le, xx is the exact length (00 = 256). */
  WRONG_LE_BASE: 0x6c00,
  WRONG_PIN_BASE: 0x63c0,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  COMMAND_INCOMPATIBLE_WITH_FILE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  REFERENCE_DATA_NOT_USABLE: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  INCORRECT_P1P2: 0x6a86,
  REFERENCE_DATA_NOT_FOUND: 0x6a88,
  WRONG_P1P2_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN_ERROR: 0x6f00,
} as const;

export type SwName = keyof typeof SW;

interface SwEntry {
  readonly name: string;
  readonly meaning: string;
}

const kFixed: ReadonlyMap<number, SwEntry> = new Map([
  [SW.OK, { name: 'OK', meaning: 'success' }],
  [SW.MEMORY_FAILURE, { name: 'MEMORY_FAILURE', meaning: 'memory failure (the card could not write its state)' }],
  [SW.WRONG_LENGTH, { name: 'WRONG_LENGTH', meaning: 'wrong length (Lc or Le)' }],
  [SW.LOGICAL_CHANNEL_NOT_SUPPORTED, { name: 'LOGICAL_CHANNEL_NOT_SUPPORTED', meaning: 'logical channel not supported' }],
  [SW.COMMAND_INCOMPATIBLE_WITH_FILE, { name: 'COMMAND_INCOMPATIBLE_WITH_FILE', meaning: 'command incompatible with file structure' }],
  [SW.SECURITY_STATUS_NOT_SATISFIED, { name: 'SECURITY_STATUS_NOT_SATISFIED', meaning: 'security status not satisfied (verify the PIN first)' }],
  [SW.AUTH_METHOD_BLOCKED, { name: 'AUTH_METHOD_BLOCKED', meaning: 'authentication method blocked (PIN blocked)' }],
  [SW.REFERENCE_DATA_NOT_USABLE, { name: 'REFERENCE_DATA_NOT_USABLE', meaning: 'reference data not usable (PIN blocked)' }],
  [SW.CONDITIONS_NOT_SATISFIED, { name: 'CONDITIONS_NOT_SATISFIED', meaning: 'conditions of use not satisfied' }],
  [SW.NO_CURRENT_EF, { name: 'NO_CURRENT_EF', meaning: 'command not allowed (no suitable current EF)' }],
  [SW.INCORRECT_DATA, { name: 'INCORRECT_DATA', meaning: 'incorrect parameters in the data field' }],
  [SW.FUNCTION_NOT_SUPPORTED, { name: 'FUNCTION_NOT_SUPPORTED', meaning: 'function not supported' }],
  [SW.FILE_NOT_FOUND, { name: 'FILE_NOT_FOUND', meaning: 'file or application not found' }],
  [SW.RECORD_NOT_FOUND, { name: 'RECORD_NOT_FOUND', meaning: 'record not found' }],
  [SW.INCORRECT_P1P2, { name: 'INCORRECT_P1P2', meaning: 'incorrect parameters P1-P2' }],
  [SW.REFERENCE_DATA_NOT_FOUND, { name: 'REFERENCE_DATA_NOT_FOUND', meaning: 'referenced data not found' }],
  [SW.WRONG_P1P2_OFFSET, { name: 'WRONG_P1P2_OFFSET', meaning: 'wrong parameters P1-P2 (offset outside the EF)' }],
  [SW.INS_NOT_SUPPORTED, { name: 'INS_NOT_SUPPORTED', meaning: 'instruction not supported' }],
  [SW.CLA_NOT_SUPPORTED, { name: 'CLA_NOT_SUPPORTED', meaning: 'class not supported' }],
  [SW.UNKNOWN_ERROR, { name: 'UNKNOWN_ERROR', meaning: 'no precise diagnosis (internal card error)' }],
]);

/** `63Cx`: the PIN was wrong (or queried) and x tries are left. */
export function wrongPinSw(triesLeft: number): number {
  if (!Number.isInteger(triesLeft) || triesLeft < 0 || triesLeft > 15) throw new RangeError(`tries left ${triesLeft} does not fit 63Cx`);
  return SW.WRONG_PIN_BASE | triesLeft;
}

export function isWrongPinSw(sw: number): boolean {
  return (sw & 0xfff0) === SW.WRONG_PIN_BASE;
}

/** `61xx`: the first part of the answer came with this SW, xx more bytes (00: 256 or more) wait for GET RESPONSE. */
export function bytesRemainingSw(remaining: number): number {
  if (!Number.isInteger(remaining) || remaining < 1) throw new RangeError(`${remaining} bytes remaining does not fit 61xx`);
  return SW.BYTES_REMAINING_BASE | (remaining >= 256 ? 0 : remaining);
}

/** `6Cxx`: Le was too short, xx is the exact length to send again (00 = 256). */
export function wrongLeSw(exact: number): number {
  if (!Number.isInteger(exact) || exact < 1 || exact > 256) throw new RangeError(`exact length ${exact} does not fit 6Cxx`);
  return SW.WRONG_LE_BASE | (exact & 0xff);
}

/**
 * True when the card may answer `sw` (the property tests hold the card to this). 61xx and 6Cxx
 * belong to the registry only for a card whose `shortLe` option answers them.
 */
export function isRegisteredSw(sw: number, shortLe: 'truncate' | '6Cxx' | '61xx' = 'truncate'): boolean {
  if (sw >> 8 === 0x61) return shortLe === '61xx';
  if (sw >> 8 === 0x6c) return shortLe === '6Cxx';
  return kFixed.has(sw) || isWrongPinSw(sw);
}

export function swName(sw: number): string {
  if (isWrongPinSw(sw)) return 'WRONG_PIN';
  if (sw >> 8 === 0x61) return 'BYTES_REMAINING';
  if (sw >> 8 === 0x6c) return 'WRONG_LE';
  return kFixed.get(sw)?.name ?? 'UNREGISTERED';
}

/** "wrong PIN, 2 tries left", "12 more bytes available (GET RESPONSE)", "wrong Le, exact length is 14". */
export function describeSw(sw: number): string {
  if (isWrongPinSw(sw)) {
    const left = sw & 0x0f;
    return left === 0 ? 'wrong PIN, no tries left (blocked)' : `wrong PIN or status query, ${left} ${left === 1 ? 'try' : 'tries'} left`;
  }
  const fixed = kFixed.get(sw);
  if (fixed) return fixed.meaning;
  const sw1 = sw >> 8;
  if (sw1 === 0x61) return `${sw & 0xff || 256} more bytes available (GET RESPONSE)`;
  if (sw1 === 0x6c) return `wrong Le, exact length is ${sw & 0xff || 256}`;
  if (sw1 === 0x62 || sw1 === 0x63) return 'warning';
  return 'unknown status word';
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/** The single error type handlers throw; the runtime turns it into the R-APDU's SW. */
export class CardError extends Error {
  constructor(
    readonly sw: number,
    detail?: string,
  ) {
    super(`${swHex(sw)} ${describeSw(sw)}${detail ? `: ${detail}` : ''}`);
    this.name = 'CardError';
  }
}
