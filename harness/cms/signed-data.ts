/**
 * Building a detached CMS SignedData (RFC 5652) the one way this harness makes them: SHA-256, RSA
 * PKCS#1 v1.5, the signed attributes content-type (id-data), signing-time and message-digest, the
 * signer's certificate (and any chain) included, no eContent. Split in two so that the private key
 * can be anywhere: `signedAttributes` gives the bytes to sign (on a card, or with a key in memory),
 * `detachedSignedData` wraps the signature.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** The OIDs of a CMS SignedData over a document (RFC 5652, RFC 5754). */
export const kCmsOids = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

export interface SignedAttributes {
  /** As they travel in the SignerInfo ([0] IMPLICIT). */
  attributes: pkijs.SignedAndUnsignedAttributes;
  /** What is signed: the same attributes DER-encoded as a SET (tag 31). */
  toBeSigned: Uint8Array;
}

/** RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
function signingTimeValue(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = seconds.getUTCFullYear();
  return year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate: seconds }) : new asn1js.GeneralizedTime({ valueDate: seconds });
}

export function signedAttributes(content: Uint8Array, signingTime: Date): SignedAttributes {
  if (Number.isNaN(signingTime.getTime())) throw new RangeError('signingTime is not a valid Date');
  const digest = createHash('sha256').update(content).digest();
  const attributes = [
    new pkijs.Attribute({ type: kCmsOids.contentType, values: [new asn1js.ObjectIdentifier({ value: kCmsOids.data })] }),
    new pkijs.Attribute({ type: kCmsOids.signingTime, values: [signingTimeValue(signingTime)] }),
    new pkijs.Attribute({ type: kCmsOids.messageDigest, values: [new asn1js.OctetString({ valueHex: digest })] }),
  ];
  // DER wants a SET OF in the order of its members' encodings.
  const encoded = attributes.map((a) => ({ a, der: Buffer.from(a.toSchema().toBER()) }));
  encoded.sort((x, y) => Buffer.compare(x.der, y.der));
  const signed = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: encoded.map((e) => e.a) });
  // What is signed is the attributes as a SET (tag 31), not as the [0] they travel in.
  const toBeSigned = new Uint8Array(signed.toSchema().toBER());
  toBeSigned[0] = 0x31;
  return { attributes: signed, toBeSigned };
}

function sha256Algorithm(): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: kCmsOids.sha256, algorithmParams: new asn1js.Null() });
}

/** The DER ContentInfo; `certificates[0]` is the signer's, the rest are included as they are. */
export function detachedSignedData(certificates: readonly pkijs.Certificate[], signed: SignedAttributes, signature: Uint8Array): Uint8Array {
  const signer = certificates[0];
  if (!signer) throw new TypeError('a SignedData needs the signer certificate');
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.issuer, serialNumber: signer.serialNumber }),
    digestAlgorithm: sha256Algorithm(),
    signedAttrs: signed.attributes,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: kCmsOids.sha256WithRsa, algorithmParams: new asn1js.Null() }),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [sha256Algorithm()],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: kCmsOids.data }),
    certificates: [...certificates],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: kCmsOids.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER());
}
