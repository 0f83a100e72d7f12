/**
 * Checking the card-info AP's basic 4 (kenhojo EF 0002) against its signed hashes (EF 0003), as a
 * relying party does before it believes a name, birth date, sex and address it did not read itself:
 *
 *   EF 0003 = FF30 { DF31 SHA-256(EF 0001), DF32 SHA-256(basic-4 span), DF33 signature }
 *   basic-4 span = EF 0002 from the start of the DF22 TLV to the end of the DF25 TLV
 *   DF33 = RSA PKCS#1 v1.5 / SHA-256 over the 70 bytes of the DF31 and DF32 TLVs, by the card-info
 *          key (J-LIS's role; the test CA publishes its public half as card-info-ap.pub.pem)
 *
 * Only the shared TLV codec and the host-side kenhojo parser are used: the portal never looks at
 * the emulator.
 */
import { createHash, createPublicKey, constants, verify, type KeyObject } from 'node:crypto';
import { readTlv, readTlvList } from '../../../iso7816/tlv.js';
import { constantTimeEqual, toHex } from '../../../iso7816/bytes.js';
import { parseKenhojoBasic4 } from '../../../common/card-info-format.js';
import type { CertificateHolder } from './holders.js';

const kTag = { basic4: 0xff20, name: 0xdf22, sex: 0xdf25, hashes: 0xff30, myNumberHash: 0xdf31, basic4Hash: 0xdf32, signature: 0xdf33 } as const;

/** The public key from what the options allow: a KeyObject, or PEM / DER SPKI bytes. */
export function cardInfoKeyFrom(key: KeyObject | Uint8Array): KeyObject {
  let publicKey: KeyObject;
  if (key instanceof Uint8Array) {
    const buffer = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const isPem = buffer.subarray(0, 64).toString('latin1').includes('-----BEGIN');
    publicKey = isPem ? createPublicKey(buffer.toString('latin1')) : createPublicKey({ key: buffer, format: 'der', type: 'spki' });
  } else {
    publicKey = key.type === 'private' ? createPublicKey(key) : key;
  }
  if (publicKey.asymmetricKeyType !== 'rsa') throw new TypeError(`the card-info key must be an RSA public key, got ${publicKey.asymmetricKeyType}`);
  return publicKey;
}

/** The kenhojo basic 4 as a portal keeps them, once they have checked out. */
export interface PersonIdentity {
  name: string;
  /** YYYY-MM-DD. */
  birth: string;
  sex: string;
  address: string;
}

/**
 * Why the card info was not believed: CARD_INFO_INVALID (not issuer-signed, or malformed) or
 * CARD_INFO_MISMATCH (issuer-signed, but another card's). Each portal answers it with the code of
 * the same name from its own registry; `detail` is the reason for test mode.
 */
export class CardInfoError extends Error {
  constructor(
    readonly code: 'CARD_INFO_INVALID' | 'CARD_INFO_MISMATCH',
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'CardInfoError';
  }
}

function invalid(detail: string): CardInfoError {
  return new CardInfoError('CARD_INFO_INVALID', detail);
}

/** The bytes from the start of the DF22 TLV to the end of the DF25 TLV inside EF 0002. */
function basic4Span(ef0002: Uint8Array): Uint8Array {
  const outer = readTlv(ef0002, 0);
  if (outer.tag !== kTag.basic4) throw invalid(`EF 0002 starts with tag ${outer.tag.toString(16).toUpperCase()}, expected FF20`);
  let offset = outer.size - outer.value.length;
  let start: number | undefined;
  let end: number | undefined;
  const stop = outer.size;
  while (offset < stop) {
    const item = readTlv(ef0002, offset);
    if (item.tag === kTag.name) start = offset;
    if (item.tag === kTag.sex) end = offset + item.size;
    offset += item.size;
  }
  if (start === undefined || end === undefined || end <= start) throw invalid('EF 0002 lacks the DF22 … DF25 span');
  return ef0002.subarray(start, end);
}

/**
 * Verifies the basic 4 against EF 0003 with the card-info key and returns them; throws a
 * CardInfoError CARD_INFO_INVALID (with the reason as detail) for anything that does not check out. With the
 * `holder` of the authentication certificate (holders.ts), the files must also be that card's own
 * (the issuer's digest of its basic 4), else CARD_INFO_MISMATCH.
 */
export function verifyCardInfo(ef0002: Uint8Array, ef0003: Uint8Array, cardInfoKey: KeyObject, holder?: CertificateHolder): PersonIdentity {
  try {
    const outer = readTlv(ef0003, 0);
    if (outer.tag !== kTag.hashes) throw invalid(`EF 0003 starts with tag ${outer.tag.toString(16).toUpperCase()}, expected FF30`);
    const children = readTlvList(outer.value);
    const [myNumberHash, basic4Hash, signature] = children;
    if (myNumberHash?.tag !== kTag.myNumberHash || basic4Hash?.tag !== kTag.basic4Hash || signature?.tag !== kTag.signature) {
      throw invalid('EF 0003 does not hold DF31, DF32 and DF33 in that order');
    }
    if (basic4Hash.value.length !== 32) throw invalid(`DF32 holds ${basic4Hash.value.length} bytes, not a SHA-256 hash`);
    // The signature covers the two hash TLVs exactly as they are on the card: the first 70 content bytes.
    const signed = outer.value.subarray(0, myNumberHash.size + basic4Hash.size);
    const ok = verify('sha256', signed, { key: cardInfoKey, padding: constants.RSA_PKCS1_PADDING }, signature.value);
    if (!ok) throw invalid('the DF33 signature does not verify with the card-info key');
    const digest = createHash('sha256').update(basic4Span(ef0002)).digest();
    if (!constantTimeEqual(digest, basic4Hash.value)) throw invalid('SHA-256 of the basic-4 span does not equal the DF32 hash');
    // Issuer-signed is not enough: the files are static, so anyone who once read a card can post
    // them. They must be the ones the issuer wrote into the card whose certificate just signed.
    if (holder !== undefined && holder.cardInfoDigest !== toHex(basic4Hash.value)) {
      throw new CardInfoError('CARD_INFO_MISMATCH', `the card info is not the one the issuer wrote into the card of certificate ${holder.serial}`);
    }
    const basic4 = parseKenhojoBasic4(ef0002);
    return { name: basic4.name, birth: basic4.birth, sex: basic4.sex, address: basic4.address };
  } catch (e) {
    if (e instanceof CardInfoError) throw e;
    // RangeError/TypeError from the TLV codec or the kenhojo parser: malformed bytes.
    throw invalid((e as Error).message);
  }
}
