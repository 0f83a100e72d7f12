/**
 * The contents of the three card-info applications, built from an Identity:
 * - 券面事項入力補助AP ("kenhojo", text for filling in forms),
 * - 券面AP ("kenkaku", pictures of the printed card surface),
 * - 住基AP ("juki", the record holding the manufacture number).
 *
 * Layouts follow jpki-card.md §6 and §7. Where the reference marks a byte as unknown, the choice made
 * here is stated next to the code that makes it. On the real card J-LIS signs this data; we sign it
 * with an AP key supplied by the issuer, so clients that check the signatures against the J-LIS keys
 * they ship (PYMYNA's verify_signature) reject our cards, and everything else reads them normally.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { ascii, concat, utf8, u16, type Bytes } from '../../iso7816/bytes.js';
import { encodeLength, tlv, tlvEncoder, type LongLengthForm, type TlvEncoder } from '../../iso7816/tlv.js';
import type { Identity } from './identity.js';
import { isValidMyNumber } from './my-number.js';
import { placeholderFace, renderTextImage } from './png.js';

export interface CardInfoOptions {
  /** The first byte of kenhojo EF 0001: 0xFF (default) or 0xDF — unknown on the real card. */
  myNumberTagByte?: 0xff | 0xdf;
  /** The two bytes after the My Number TLV in kenhojo EF 0001 (unknown on the real card; default 00 00). */
  myNumberTrailer?: Uint8Array;
  /** Expiry date of the card (YYYY-MM-DD), printed on the surface and part of PIN B. */
  cardExpiry: string;
  /** 4-digit security code (セキュリティコード) printed on the card surface; part of PIN B. */
  securityCode: string;
  /** 13-character manufacture number (製造番号) for the 住基AP record. */
  manufactureNumber: string;
  /** Issuing municipality name for the kenkaku basic info. */
  municipality: string;
  /**
   * How the kenhojo and kenkaku TLVs write lengths of 128 and more (the card option
   * `tlvLongLength`): `two-byte` (default) is always `82 hi lo`, `minimal` is `81 LL` up to 255.
   */
  longLength?: LongLengthForm;
}

export interface CardInfoFiles {
  /** Keys "0001".."0005" (4-hex-digit FIDs, upper case). */
  kenhojo: Record<string, Uint8Array>;
  /** Keys "0001".."0005". */
  kenkaku: Record<string, Uint8Array>;
  /** Record 1 of the 住基AP EF with SFI 1. */
  jukiRecord: Uint8Array;
  /** The 14-digit 照合番号B value: birth YYMMDD + expiry YYYY + security code. */
  pinB: string;
}

/**
 * APInfo (4 bytes) of kenhojo EF 0005 and kenkaku EF 0003. The real values are unknown; we use the
 * last four bytes of each AP's AID (D3 92 10 00 31 00 01 01 04 08 / …04 02) so they are easy to tell apart.
 */
export const kKenhojoApInfo = Uint8Array.of(0x01, 0x01, 0x04, 0x08);
export const kKenkakuApInfo = Uint8Array.of(0x01, 0x01, 0x04, 0x02);
/** Version byte of kenkaku EF 0003 (unknown on the real card). */
export const kKenkakuApVersion = 0x01;
/** Size of kenhojo EF 0005; PYMYNA and MYNA-GO read 256 bytes and PYMYNA asserts the length. */
export const kKenhojoBasicInfoSize = 256;
/**
 * The two characters in front of the manufacture number in the 住基AP record value. MYNA's
 * `unknown manufacture` prints characters [2..15] of the TLV *value*, so the number has to start at
 * value offset 2. What the real card has there is unknown (the MYNA dummy uses "AB"); we use spaces.
 */
export const kJukiRecordPrefix = '  ';

const kEf0001Size = 17;
const kEf0003Size = 336;
const kCertificateSize = 568;
const kApPublicKeySize = 265;
const kSignatureSize = 256;

const kDate = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/** YYYY-MM-DD → YYYYMMDD, rejecting impossible dates so the card never carries "20250231". */
function compactDate(date: string, what: string): string {
  const m = kDate.exec(date);
  const parsed = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !parsed || parsed.toISOString().slice(0, 10) !== date) {
    throw new RangeError(`${what} "${date}" is not a valid YYYY-MM-DD date`);
  }
  return `${m[1]}${m[2]}${m[3]}`;
}

function sha256(data: Uint8Array): Bytes {
  return Uint8Array.from(createHash('sha256').update(data).digest());
}

/** RSASSA-PKCS1-v1_5 with SHA-256: node:crypto's default padding for RSA keys. */
function signSha256(apKey: KeyObject, data: Uint8Array): Bytes {
  const signature = Uint8Array.from(sign('sha256', data, apKey));
  if (signature.length !== kSignatureSize) throw new Error(`AP signature is ${signature.length} bytes, expected ${kSignatureSize}`);
  return signature;
}

/**
 * The AP public key as the card writes it: two primitive TLVs with tag numbers 16 (e) and 17 (n)
 * (PYMYNA `ASN1RSAPublicKey`), e first (JSAPDU `decodePublicKey` reads e then n). The reference's
 * 265-byte total only works with one-byte tags; their class is unknown and we use context-specific,
 * giving 0x90 and 0x91: `90 03 01 00 01` (5 bytes) + `91 82 01 00` + 256 modulus bytes (260) = 265.
 */
export function encodeApPublicKey(apKey: KeyObject): Bytes {
  const jwk = createPublicKey(apKey).export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new TypeError('the AP key must be an RSA key');
  }
  const n = Uint8Array.from(Buffer.from(jwk.n, 'base64url'));
  const e = Uint8Array.from(Buffer.from(jwk.e, 'base64url'));
  const encoded = concat(tlv(0x90, e), tlv(0x91, n));
  if (encoded.length !== kApPublicKeySize) {
    throw new RangeError(
      `the AP public key encodes to ${encoded.length} bytes, the card format needs ${kApPublicKeySize}: use RSA-2048 with e = 65537`,
    );
  }
  return encoded;
}

/**
 * The CV-style certificate of EF 0004 (kenhojo and kenkaku): `7F 21` { `5F 4E` AKI ‖ SKI ‖ public
 * key, `5F 37` signature over the `5F 4E` content }. On the real card J-LIS issues it; ours is
 * self-signed by the AP key, so AKI = SKI = apKeyId (the issuing key is the key itself).
 */
export function buildApCertificate(apKey: KeyObject, apKeyId: Uint8Array): Bytes {
  const body = concat(apKeyId, apKeyId, encodeApPublicKey(apKey));
  const certificate = tlv(0x7f21, tlv(0x5f4e, body), tlv(0x5f37, signSha256(apKey, body)));
  if (certificate.length !== kCertificateSize) {
    throw new Error(`AP certificate is ${certificate.length} bytes, clients expect ${kCertificateSize}`);
  }
  return certificate;
}

/**
 * `FF 20 LL` { `DF 21` offsets, fields… } where the offsets are file-relative positions of each
 * field TLV, as uint16 big-endian. The outer length is short form while the content is under 128
 * bytes, else long form as `form` says (`82 00 LL` / `81 LL` up to 255, `82 hi lo` above).
 */
function withOffsets(t: TlvEncoder, form: LongLengthForm, fields: readonly Uint8Array[]): { file: Bytes; offsets: number[] } {
  const offsetsTlvSize = 3 + 2 * fields.length; // DF 21 <len> + one u16 per field; always short form here
  const contentLength = offsetsTlvSize + fields.reduce((sum, f) => sum + f.length, 0);
  let position = 2 + encodeLength(contentLength, form).length + offsetsTlvSize;
  const offsets = fields.map((f) => {
    const here = position;
    position += f.length;
    return here;
  });
  if (offsets.some((o) => o > 0xffff)) throw new RangeError('card-info file too large for 16-bit field offsets');
  const file = t(0xff20, t(0xdf21, ...offsets.map(u16)), ...fields);
  return { file, offsets };
}

interface Checked {
  myNumber: string;
  birth: string;
  expiry: string;
}

function checkInputs(identity: Identity, apKey: KeyObject, apKeyId: Uint8Array, options: CardInfoOptions): Checked {
  if (!isValidMyNumber(identity.myNumber)) throw new RangeError(`"${identity.myNumber}" is not a 12-digit My Number with a valid check digit`);
  if (!['1', '2', '9'].includes(identity.sex)) throw new RangeError(`sex "${identity.sex}" is not an ISO 5218 code 1, 2 or 9`);
  if (apKey.type !== 'private' || apKey.asymmetricKeyType !== 'rsa' || apKey.asymmetricKeyDetails?.modulusLength !== 2048) {
    throw new TypeError('apKey must be an RSA-2048 private key');
  }
  if (apKeyId.length !== 16) throw new RangeError(`apKeyId must be 16 bytes, got ${apKeyId.length}`);
  if (!/^[0-9]{4}$/.test(options.securityCode)) throw new RangeError(`security code "${options.securityCode}" is not 4 digits`);
  if (!/^[\x21-\x7e]{13}$/.test(options.manufactureNumber)) {
    throw new RangeError(`manufacture number "${options.manufactureNumber}" is not 13 printable ASCII characters`);
  }
  if (options.municipality.length === 0) throw new RangeError('municipality must not be empty');
  if (options.myNumberTrailer && options.myNumberTrailer.length !== 2) {
    throw new RangeError(`myNumberTrailer must be 2 bytes, got ${options.myNumberTrailer.length}`);
  }
  const tagByte = options.myNumberTagByte ?? 0xff;
  if (tagByte !== 0xff && tagByte !== 0xdf) throw new RangeError('myNumberTagByte must be 0xFF or 0xDF');
  return {
    myNumber: identity.myNumber,
    birth: compactDate(identity.birth, 'birth date'),
    expiry: compactDate(options.cardExpiry, 'card expiry'),
  };
}

function buildKenhojo(identity: Identity, checked: Checked, apKey: KeyObject, apKeyId: Uint8Array, options: CardInfoOptions): Record<string, Bytes> {
  // EF 0001: the TLV plus two trailing bytes; clients read and hash all 17.
  const ef0001 = concat(tlv(((options.myNumberTagByte ?? 0xff) << 8) | 0x10, ascii(checked.myNumber)), options.myNumberTrailer ?? [0, 0]);
  if (ef0001.length !== kEf0001Size) throw new Error(`kenhojo EF 0001 is ${ef0001.length} bytes, expected ${kEf0001Size}`);

  // EF 0002: the printed name and address (not the 代替文字 forms), as the text a form would take.
  // Unpadded: PYMYNA reads exactly 3 + outer length. For identities whose content reaches 128 bytes the
  // outer length becomes long form (`82 00 LL` by default, see the tlvLongLength option); PYMYNA and
  // HPKI read a one-byte length and will misparse those.
  const form = options.longLength ?? 'two-byte';
  const t = tlvEncoder(form);
  const { file: ef0002, offsets } = withOffsets(t, form, [
    t(0xdf22, utf8(identity.name)),
    t(0xdf23, utf8(identity.address)),
    t(0xdf24, ascii(checked.birth)),
    t(0xdf25, ascii(identity.sex)),
  ]);
  const basic4Span = ef0002.subarray(offsets[0], ef0002.length); // DF 22 TLV through the end of DF 25

  // EF 0003: the hashes, and the AP signature over the two hash TLVs (the first 70 content bytes).
  const hashes = concat(t(0xdf31, sha256(ef0001)), t(0xdf32, sha256(basic4Span)));
  const ef0003 = t(0xff30, hashes, t(0xdf33, signSha256(apKey, hashes)));
  if (ef0003.length !== kEf0003Size) throw new Error(`kenhojo EF 0003 is ${ef0003.length} bytes, expected ${kEf0003Size}`);

  // EF 0005: padding after the TLV is unknown on the real card; 0xFF is what an erased EF reads as.
  const basicInfo = t(0xff40, t(0xdf41, kKenhojoApInfo), t(0xdf42, apKeyId));
  const ef0005 = new Uint8Array(kKenhojoBasicInfoSize).fill(0xff);
  ef0005.set(basicInfo);

  return { '0001': ef0001, '0002': ef0002, '0003': ef0003, '0004': buildApCertificate(apKey, apKeyId), '0005': ef0005 };
}

/** "123456789018" → "1234 5678 9012", the grouping printed on the back of the card. */
function groupedMyNumber(myNumber: string): string {
  return `${myNumber.slice(0, 4)} ${myNumber.slice(4, 8)} ${myNumber.slice(8, 12)}`;
}

function buildKenkaku(identity: Identity, checked: Checked, apKey: KeyObject, apKeyId: Uint8Array, options: CardInfoOptions): Record<string, Bytes> {
  const publicKey = encodeApPublicKey(apKey);
  const form = options.longLength ?? 'two-byte';
  const t = tlvEncoder(form);

  // EF 0001: birth date signed on its own; the signature covers the DF 11 TLV (tag, length, value).
  const birth = t(0xdf11, ascii(checked.birth));
  const ef0001 = t(0xff10, birth, t(0xdf12, publicKey), t(0xdf13, signSha256(apKey, birth)));

  // EF 0002: one offset per field after DF 21 (nine), in the kenhojo EF 0002 manner. The signature
  // covers the DF 22..DF 27 TLVs as they lie in the file; expiry and security code come after it.
  const signed = [
    t(0xdf22, ascii(checked.birth)),
    t(0xdf23, ascii(identity.sex)),
    t(0xdf24, publicKey),
    t(0xdf25, renderTextImage(identity.name)),
    t(0xdf26, renderTextImage(identity.address)),
    t(0xdf27, placeholderFace()),
  ];
  const { file: ef0002 } = withOffsets(t, form, [
    ...signed,
    t(0xdf28, signSha256(apKey, concat(...signed))),
    t(0xdf29, ascii(checked.expiry)),
    t(0xdf2a, renderTextImage(options.securityCode)),
  ]);

  // EF 0003: MYNA reads four TLVs inside one: id (4 bytes), one it skips, version (1 byte), city.
  // Tags, the skipped field and the absence of padding are our choices: FF 30 after the file number,
  // DF 31..DF 34 inside, and the skipped field is the KeyID as in kenhojo EF 0005.
  const ef0003 = t(
    0xff30,
    t(0xdf31, kKenkakuApInfo),
    t(0xdf32, apKeyId),
    t(0xdf33, Uint8Array.of(kKenkakuApVersion)),
    t(0xdf34, utf8(options.municipality)),
  );

  // EF 0005: the picture of the My Number, signed together with the key TLV (all TLVs before DF 43).
  const myNumberSigned = concat(t(0xdf41, renderTextImage(groupedMyNumber(checked.myNumber))), t(0xdf42, publicKey));
  const ef0005 = t(0xff40, myNumberSigned, t(0xdf43, signSha256(apKey, myNumberSigned)));

  return { '0001': ef0001, '0002': ef0002, '0003': ef0003, '0004': buildApCertificate(apKey, apKeyId), '0005': ef0005 };
}

/**
 * Builds every EF of the three card-info APs. `apKey` (RSA-2048 private, e = 65537) stands in for
 * the J-LIS key that signs kenhojo EF 0003 and the kenkaku data; `apKeyId` (16 bytes) is its key id.
 */
export function buildCardInfoFiles(identity: Identity, apKey: KeyObject, apKeyId: Uint8Array, options: CardInfoOptions): CardInfoFiles {
  const checked = checkInputs(identity, apKey, apKeyId, options);
  return {
    kenhojo: buildKenhojo(identity, checked, apKey, apKeyId, options),
    kenkaku: buildKenkaku(identity, checked, apKey, apKeyId, options),
    // `30 0F` + 2-character prefix + 13-character manufacture number (see kJukiRecordPrefix).
    jukiRecord: tlv(0x30, ascii(kJukiRecordPrefix + options.manufactureNumber)),
    pinB: checked.birth.slice(2) + checked.expiry.slice(0, 4) + options.securityCode,
  };
}
