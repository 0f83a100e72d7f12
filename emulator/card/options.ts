/**
 * Behaviours of the real card that no public source settles. Each has the default that
 * docs/card-profile.md argues for, and a card definition may change it (design rule 2).
 * `card probe` measures each of them on a real card, one probe step per option name, so
 * `kCardOptionChoices` lists every option and every value it can take.
 */

export interface CardOptions {
  /** SW to a VERIFY of a blocked PIN: 6983 (ISO "authentication method blocked"), 6984, or 63C0. */
  blockedPinSw: '6983' | '6984' | '63C0';
  /** Answer to the empty VERIFY status query while the PIN is verified: 63Cx (what OpenSC needs) or 9000. */
  statusQueryWhenVerified: '63Cx' | '9000';
  /** READ BINARY at an offset at or past the end of the EF: 6B00, or 9000 with no data. */
  readPastEnd: '6B00' | '9000';
  /** Whether selecting another AP clears the verified PINs. */
  securityOnApSwitch: 'clear' | 'keep';
  /** Whether SELECT of the AP that is already current clears its verified PINs (OpenSC's logout). */
  securityOnReselect: 'keep' | 'clear';
  /** SW for INS 2A when the key's PIN is not verified. */
  signWithoutPinSw: '6982' | '6985';
  /** Whether kenhojo EF 0004 (the intermediate certificate) needs the kenhojo PIN to be read. */
  kenhojoCertificateNeedsPin: boolean;
  /** SW to SELECT of any AP when the card lifecycle is "terminated". */
  terminatedSelectSw: '6A81' | '6A82';
  /**
   * How the kenhojo and kenkaku TLVs write a length of 128 or more: `82 hi lo` always, or the
   * fewest bytes (`81 LL` up to 255). Lengths under 128 are one byte either way. The card image
   * stores the encoded EFs, so this takes effect when a card is issued.
   */
  tlvLongLength: 'two-byte' | 'minimal';
  /** GET CHALLENGE (00 84 00 00 Le): 6D00, or Le random bytes. */
  getChallenge: 'unsupported' | 'supported';
  /**
   * An answer longer than Ne (SELECT's FCI/FCP, a record, a signature): the first Ne bytes with
   * 9000; no data and 6C + the exact length (the client sends again); or the first Ne bytes with
   * 61 + what is left, the rest by GET RESPONSE (00 C0 00 00 Le).
   */
  shortLe: 'truncate' | '6Cxx' | '61xx';
  /** COMPUTE DIGITAL SIGNATURE sent as case 3 (no Le): the signature with 9000, or 6700. */
  signWithoutLe: 'full' | '6700';
}

export type CardOptionName = keyof CardOptions;

export const kDefaultCardOptions: Readonly<CardOptions> = Object.freeze({
  blockedPinSw: '6983',
  statusQueryWhenVerified: '63Cx',
  readPastEnd: '6B00',
  securityOnApSwitch: 'clear',
  securityOnReselect: 'keep',
  signWithoutPinSw: '6982',
  kenhojoCertificateNeedsPin: false,
  terminatedSelectSw: '6A81',
  tlvLongLength: 'two-byte',
  getChallenge: 'unsupported',
  shortLe: 'truncate',
  signWithoutLe: 'full',
});

/** The allowed values of each option, the default first, for validation, `--help` texts and the probe. */
export const kCardOptionChoices: { readonly [K in CardOptionName]: readonly CardOptions[K][] } = {
  blockedPinSw: ['6983', '6984', '63C0'],
  statusQueryWhenVerified: ['63Cx', '9000'],
  readPastEnd: ['6B00', '9000'],
  securityOnApSwitch: ['clear', 'keep'],
  securityOnReselect: ['keep', 'clear'],
  signWithoutPinSw: ['6982', '6985'],
  kenhojoCertificateNeedsPin: [false, true],
  terminatedSelectSw: ['6A81', '6A82'],
  tlvLongLength: ['two-byte', 'minimal'],
  getChallenge: ['unsupported', 'supported'],
  shortLe: ['truncate', '6Cxx', '61xx'],
  signWithoutLe: ['full', '6700'],
};

/** Every option name, in the order of the table in docs/card-profile.md. */
export const kCardOptionNames: readonly CardOptionName[] = Object.keys(kCardOptionChoices) as CardOptionName[];
