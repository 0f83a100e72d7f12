/**
 * Behaviours of the real card that no public source settles. Each has the default that
 * docs/card-profile.md argues for, and a card definition may change it (design rule 2).
 */

export interface CardOptions {
  /** SW to a VERIFY of a blocked PIN: 6983 (ISO "authentication method blocked"), 6984, or 63C0. */
  blockedPinSw: '6983' | '6984' | '63C0';
  /** Answer to the empty VERIFY status query while the PIN is verified: 63Cx (what OpenSC needs) or 9000. */
  statusQueryWhenVerified: '63Cx' | '9000';
  /** READ BINARY at an offset at or past the end of the EF: 6B00, or 9000 with no data. */
  readPastEnd: '6B00' | '9000';
  /** Whether selecting another AP clears the verified PINs (re-selecting the same AP always does). */
  securityOnApSwitch: 'clear' | 'keep';
  /** SW for INS 2A when the key's PIN is not verified. */
  signWithoutPinSw: '6982' | '6985';
  /** Whether kenhojo EF 0004 (the intermediate certificate) needs the kenhojo PIN to be read. */
  kenhojoCertificateNeedsPin: boolean;
  /** SW to SELECT of any AP when the card lifecycle is "terminated". */
  terminatedSelectSw: '6A81' | '6A82';
}

export const kDefaultCardOptions: Readonly<CardOptions> = Object.freeze({
  blockedPinSw: '6983',
  statusQueryWhenVerified: '63Cx',
  readPastEnd: '6B00',
  securityOnApSwitch: 'clear',
  signWithoutPinSw: '6982',
  kenhojoCertificateNeedsPin: true,
  terminatedSelectSw: '6A81',
});

/** The allowed values of each option, for validation and for `--help` texts. */
export const kCardOptionChoices: { readonly [K in keyof CardOptions]: readonly CardOptions[K][] } = {
  blockedPinSw: ['6983', '6984', '63C0'],
  statusQueryWhenVerified: ['63Cx', '9000'],
  readPastEnd: ['6B00', '9000'],
  securityOnApSwitch: ['clear', 'keep'],
  signWithoutPinSw: ['6982', '6985'],
  kenhojoCertificateNeedsPin: [true, false],
  terminatedSelectSw: ['6A81', '6A82'],
};
