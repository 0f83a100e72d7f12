/**
 * Whom a JPKI signature certificate names: the basic 4 in its subjectAltName, as otherName entries
 * (`1.2.392.200149.8.5.5.1` name, `.3` sex, `.4` birth date, `.5` address; docs/card-profile.md).
 * Unlike the card-info files a client posts, these are bound to the key that signed, so they are
 * what a relying party compares with the applicant a signed document names.
 */
import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';

const kSubjectAltName = '2.5.29.17';
const kSan = { name: '1.2.392.200149.8.5.5.1', sex: '1.2.392.200149.8.5.5.3', birth: '1.2.392.200149.8.5.5.4', address: '1.2.392.200149.8.5.5.5' } as const;

export interface SignerIdentity {
  name?: string;
  address?: string;
  /** EYYYYMMDD as JPKI writes it (era digit, then the Gregorian date). */
  birth?: string;
  sex?: string;
}

function stringOf(block: asn1js.AsnType | undefined): string | undefined {
  if (block instanceof asn1js.Utf8String || block instanceof asn1js.PrintableString || block instanceof asn1js.IA5String || block instanceof asn1js.BmpString) {
    return block.valueBlock.value;
  }
  return undefined;
}

/** The otherName strings of the certificate's subjectAltName; empty when it has none. */
export function signerIdentity(certificate: pkijs.Certificate): SignerIdentity {
  const extension = certificate.extensions?.find((e) => e.extnID === kSubjectAltName);
  if (!extension) return {};
  const parsed = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return {};
  const found: Record<string, string> = {};
  for (const general of parsed.result.valueBlock.value) {
    // otherName [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
    if (general.idBlock.tagClass !== 3 || general.idBlock.tagNumber !== 0 || !(general instanceof asn1js.Constructed)) continue;
    const [typeId, wrapped] = general.valueBlock.value;
    if (!(typeId instanceof asn1js.ObjectIdentifier) || !(wrapped instanceof asn1js.Constructed)) continue;
    const value = stringOf(wrapped.valueBlock.value[0]);
    if (value !== undefined) found[typeId.valueBlock.toString()] = value;
  }
  const identity: SignerIdentity = {};
  for (const [field, oid] of Object.entries(kSan) as [keyof SignerIdentity, string][]) {
    const value = found[oid];
    if (value !== undefined) identity[field] = value;
  }
  return identity;
}

/**
 * The form a person types and the form the card holds, made comparable: NFKC (full- and half-width
 * letters and digits alike) and no white space at all (「番号\u3000太郎」 and 「番号太郎」 are one name).
 */
export function comparableText(text: string): string {
  return text.normalize('NFKC').replace(/\s+/gu, '');
}
