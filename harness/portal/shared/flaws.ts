/**
 * Flaws a portal can be built with on purpose, as a card can be issued with `defects:`: each
 * restores one mistake a careless relying party makes, so that a QA team can see its scenarios
 * catch it (the negative suite fails on a flawed portal, as a product defect). Never on by default.
 *
 * - `trust-client-card-info`: the person is whoever the posted card-info files (kenhojo EF 0002 +
 *   EF 0003) name, matched on name, birth date and sex, instead of whom the issuer says holds the
 *   authentication certificate that signed (and the files are not checked against that card).
 * - `skip-applicant-check`: a signed application is accepted whoever signed it, without comparing
 *   the signature certificate's holder with the applicant.
 */
export const kPortalFlaws = ['trust-client-card-info', 'skip-applicant-check'] as const;

export type PortalFlaw = (typeof kPortalFlaws)[number];

export function isPortalFlaw(text: string): text is PortalFlaw {
  return (kPortalFlaws as readonly string[]).includes(text);
}

/** The set of flaws from an option, checking each name (a typo must not silently build a sound portal). */
export function flawSet(flaws: readonly string[] | undefined): ReadonlySet<PortalFlaw> {
  const set = new Set<PortalFlaw>();
  for (const flaw of flaws ?? []) {
    if (!isPortalFlaw(flaw)) throw new TypeError(`unknown portal flaw "${flaw}" (known: ${kPortalFlaws.join(', ')})`);
    set.add(flaw);
  }
  return set;
}
