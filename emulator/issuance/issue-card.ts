/**
 * Issuance: turns a card definition into a card image, as the municipal office and J-LIS do —
 * key pairs generated for the card, certificates from the test CA, the card-info AP files, PINs
 * set by the holder — and applies what the definition asks for (revocations, expired
 * certificates, blocked PINs, a private key that does not match its certificate).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomInt, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PinId } from '../card/file-system.js';
import { kDefaultCardOptions } from '../card/options.js';
import { ascii, concat, fromBase64, fromHex, toBase64, toHex } from '../../iso7816/bytes.js';
import { readTlv, readTlvList } from '../../iso7816/tlv.js';
import { parseDer } from './der.js';
import { formatName, Oid, parseCertificate, type ParsedCertificate } from './x509.js';
import type { CardImage, PinState } from '../image/card-image.js';
import { kImageFormat, kImageVersion } from '../image/card-image.js';
import { writeFileAtomic } from '../image/image-store.js';
import { buildCardInfoFiles } from './card-info.js';
import type { CardDefinition, RevocationReason } from './card-definition.js';
import type { Identity } from './identity.js';
import { randomMyNumber } from './my-number.js';
import { birthdayAfter, issueCardCertificates, localityFromAddress, revokeCertificate, type TestCa } from './test-ca.js';
import { endOfJstDay, jstIsoDate, jstWallClock } from '../../common/jst.js';

const generateRsaKeyPair = promisify(generateKeyPair);

/** RSA-2048, e = 65537, as both JPKI keys are. */
export async function generateCardKey(): Promise<KeyObject> {
  const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048, publicExponent: 65537 });
  return privateKey;
}

/** The token EF: JPKIAPICCTOKEN2 padded with spaces (not NUL) to 32 bytes; clients trim spaces. */
export function jpkiToken(): Uint8Array {
  return ascii('JPKIAPICCTOKEN2'.padEnd(32, ' '));
}

/** Standard JPKI try limits; the card-info PIN limits are not public and are our documented defaults. */
export const kPinLimits: Record<PinId, number> = {
  auth: 3,
  sign: 5,
  kenhojo: 3,
  juki: 3,
  kenhojoA: 10,
  kenhojoB: 10,
  kenkakuA: 10,
  kenkakuB: 10,
};

const kCardInfoKeyFile = 'card-info-ap.key.pem';
/** The public half, published with the CA certificates as a trust anchor. */
export const kCardInfoPublicKeyFile = 'card-info-ap.pub.pem';

/**
 * The key that signs the card-info AP data (J-LIS's role). It belongs to the issuer, so it is
 * kept in the CA directory and made on first use.
 */
async function cardInfoKey(ca: TestCa): Promise<KeyObject> {
  const path = join(ca.dir, kCardInfoKeyFile);
  const publicPath = join(ca.dir, kCardInfoPublicKeyFile);
  const key = existsSync(path) ? createPrivateKey(readFileSync(path, 'utf8')) : await generateCardKey();
  if (!existsSync(path)) writeFileAtomic(path, key.export({ type: 'pkcs8', format: 'pem' }).toString());
  // Relying parties check the card-info signature against this public key, as they would J-LIS's.
  if (!existsSync(publicPath)) writeFileAtomic(publicPath, createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  return key;
}

/** DF32 of kenhojo EF 0003: the SHA-256 of the basic-4 span the card-info key signed. */
function basic4Digest(ef0003: Uint8Array): Uint8Array {
  const digest = readTlvList(readTlv(ef0003, 0).value).find((t) => t.tag === 0xdf32);
  if (!digest) throw new Error('kenhojo EF 0003 has no DF32');
  return digest.value;
}

export function ageOn(birth: string, date: Date): number {
  const [y, m, d] = birth.split('-').map(Number) as [number, number, number];
  // Ages change at the start of the birthday in Japan's local time.
  const jst = jstWallClock(date);
  const beforeBirthday = jst.getUTCMonth() + 1 < m || (jst.getUTCMonth() + 1 === m && jst.getUTCDate() < d);
  return jst.getUTCFullYear() - y - (beforeBirthday ? 1 : 0);
}

function randomDigits(n: number): string {
  return Array.from({ length: n }, () => randomInt(10)).join('');
}

function randomManufactureNumber(): string {
  const letters = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
  return `${letters[randomInt(letters.length)]}${letters[randomInt(letters.length)]}${randomDigits(11)}`;
}

export interface IssuedCardImage {
  image: CardImage;
  serials: { auth: string; sign?: string | undefined };
}

export interface IssueOptions {
  /**
   * Where the card's RSA-2048 key pairs come from (default: a fresh key each, generateCardKey).
   * A population of test cards can draw them from a pool of pre-generated test keys instead.
   */
  cardKey?: () => Promise<KeyObject>;
}

/** Issues a card from `definition` with certificates from `ca`; `now` lets tests issue in the past. */
export async function issueCard(ca: TestCa, definition: CardDefinition, now: Date = new Date(), options: IssueOptions = {}): Promise<IssuedCardImage> {
  const cardKey = options.cardKey ?? generateCardKey;
  const identity: Identity = {
    ...definition.identity,
    myNumber: definition.identity.myNumber ?? randomMyNumber(),
  };
  const issued = definition.certificates.issued ? new Date(definition.certificates.issued) : now;
  if (Number.isNaN(issued.getTime())) throw new RangeError(`certificates.issued "${definition.certificates.issued}" is not a date`);
  const age = ageOn(identity.birth, issued);
  if (age < 0) throw new RangeError(`the holder is born (${identity.birth}) after the card is issued (${jstIsoDate(issued)})`);
  const withSignature = definition.certificates.signature ?? age >= 15;
  // A deliberately broken card (defects.wrongKey): the certificate certifies one key pair, but
  // the card keeps a second, unrelated private key for that slot, so its signatures do not verify.
  const wrongKey = definition.defects.wrongKey;
  const wrongSlots = { auth: wrongKey === 'auth' || wrongKey === 'both', sign: wrongKey === 'sign' || wrongKey === 'both' };
  if (wrongSlots.sign && !withSignature) throw new RangeError(`defects.wrongKey: "${wrongKey}" names the signature key, and the card has no signature certificate`);

  // The card itself: 10 years for adults, 5 below 18; a foreign resident's ends with the stay.
  const cardExpiry =
    definition.card.periodOfStayEnds ??
    definition.card.expiry ??
    jstIsoDate(new Date(birthdayAfter(identity.birth, issued, age >= 18 ? 10 : 5).getTime() - 1000));
  const cardEnd = endOfJstDay(cardExpiry);
  const notAfter = definition.certificates.notAfter ? endOfJstDay(definition.certificates.notAfter.slice(0, 10)) : undefined;
  const byBirthday = new Date(birthdayAfter(identity.birth, issued, 5).getTime() - 1000);
  const certificateEnd = notAfter ?? (byBirthday < cardEnd ? byBirthday : cardEnd);

  const [authKey, signKey, apKey, wrongAuthKey, wrongSignKey] = await Promise.all([
    cardKey(),
    withSignature ? cardKey() : Promise.resolve(undefined),
    cardInfoKey(ca),
    wrongSlots.auth ? cardKey() : Promise.resolve(undefined),
    wrongSlots.sign ? cardKey() : Promise.resolve(undefined),
  ]);
  const cardAuthKey = wrongAuthKey ?? authKey;
  const cardSignKey = wrongSignKey ?? signKey;
  const apKeyId = createHash('sha256').update(createPublicKey(apKey).export({ type: 'spki', format: 'der' })).digest().subarray(0, 16);
  const info = buildCardInfoFiles(identity, apKey, apKeyId, {
    myNumberTagByte: definition.cardInfo.myNumberTagByte,
    myNumberTrailer: fromHex(definition.cardInfo.myNumberTrailer),
    cardExpiry,
    securityCode: definition.card.securityCode ?? randomDigits(4),
    manufactureNumber: definition.card.manufactureNumber ?? randomManufactureNumber(),
    municipality: localityFromAddress(identity.address),
    // The image stores the encoded EFs, so this card option takes effect here, at issuance.
    longLength: definition.options.tlvLongLength ?? kDefaultCardOptions.tlvLongLength,
  });
  const certificates = issueCardCertificates(ca, {
    identity,
    authKey: createPublicKey(authKey),
    signKey: signKey ? createPublicKey(signKey) : undefined,
    notBefore: issued,
    notAfter: certificateEnd,
    now: issued,
    // The issuer's register ties this card's authentication certificate to the card-info it wrote.
    cardInfoDigest: toHex(basic4Digest(info.kenhojo['0003']!)),
  });
  for (const kind of ['auth', 'sign'] as const) {
    const reason = definition.certificates.revoked[kind];
    const cert = certificates[kind];
    if (reason && cert) revokeCertificate(ca, cert.serial, reason, { now });
    if (reason && !cert) throw new RangeError(`certificates.revoked.${kind}: the card has no ${kind} certificate to revoke`);
  }

  const jpkiFiles: Record<string, string> = {
    '0006': toBase64(jpkiToken()),
    '000A': toBase64(certificates.auth.der),
    '000B': toBase64(ca.auth.certificate),
    '0002': toBase64(ca.sign.certificate),
  };
  if (certificates.sign) jpkiFiles['0001'] = toBase64(certificates.sign.der);

  const pinValues: Record<PinId, string> = {
    auth: definition.pins.auth,
    // A card without a signature key has no password; the counter is kept so every image has the same shape.
    sign: withSignature ? definition.pins.sign : '',
    kenhojo: definition.pins.kenhojo,
    juki: definition.pins.juki,
    kenhojoA: identity.myNumber,
    kenkakuA: identity.myNumber,
    kenhojoB: info.pinB,
    kenkakuB: info.pinB,
  };
  const pins = {} as Record<PinId, PinState>;
  for (const [id, value] of Object.entries(pinValues) as [PinId, string][]) {
    const limit = definition.tries[id]?.limit ?? kPinLimits[id];
    const remaining = Math.min(definition.tries[id]?.remaining ?? limit, limit);
    pins[id] = { value, limit, remaining };
  }

  const encodeFiles = (files: Record<string, Uint8Array>): Record<string, string> =>
    Object.fromEntries(Object.entries(files).map(([fid, bytes]) => [fid, toBase64(bytes)]));
  const pem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

  const image: CardImage = {
    format: kImageFormat,
    version: kImageVersion,
    label: definition.id,
    issuedAt: issued.toISOString(),
    atr: definition.card.atr,
    lifecycle: definition.card.lifecycle,
    options: { ...kDefaultCardOptions, ...definition.options },
    identity: {
      name: identity.name,
      nameKana: identity.nameKana,
      address: identity.address,
      birth: identity.birth,
      sex: identity.sex,
      myNumber: identity.myNumber,
    },
    cardExpiry,
    applets: {
      jpki: { files: jpkiFiles, keys: { auth: pem(cardAuthKey), sign: cardSignKey ? pem(cardSignKey) : undefined } },
      kenhojo: { files: encodeFiles(info.kenhojo) },
      kenkaku: { files: encodeFiles(info.kenkaku) },
      juki: { records: [toBase64(concat(info.jukiRecord))] },
    },
    pins,
  };
  if (wrongKey) image.defects = { wrongKey };
  return {
    image,
    serials: {
      auth: certificates.auth.serial.toString(16).toUpperCase(),
      sign: certificates.sign?.serial.toString(16).toUpperCase(),
    },
  };
}

/** Revokes the certificate a card image carries (`ca revoke`); the serial is read from the certificate. */
/** The card's certificate names another issuer than the CA asked to revoke it. */
export class CardFromAnotherCaError extends Error {
  override readonly name = 'CardFromAnotherCaError';
}

/**
 * Why `cert` is not one of `ca`'s, else undefined. Serial numbers alone cannot tell: every test CA
 * numbers its certificates alike, so a serial names a different person's certificate in another CA.
 * The issuer name and the authority key identifier (the CA key's SHA-1 key id) both have to match.
 */
function foreignIssuer(ca: TestCa, kind: 'auth' | 'sign', cert: ParsedCertificate): string | undefined {
  const authority = ca[kind];
  const caSubject = formatName(parseCertificate(authority.certificate).subject);
  const issuer = formatName(cert.issuer);
  if (issuer !== caSubject) return `its issuer is "${issuer}", the CA's ${kind} authority is "${caSubject}"`;
  const aki = cert.extensions.find((e) => e.oid === Oid.authorityKeyIdentifier);
  const keyId = aki ? parseDer(aki.value).children.find((c) => c.tag === 0x80)?.value : undefined;
  if (!keyId) return 'it has no authority key identifier';
  if (toHex(keyId) !== toHex(authority.keyId)) return `its authority key identifier ${toHex(keyId)} is not the CA key's ${toHex(authority.keyId)}`;
  return undefined;
}

export function revokeCardCertificate(ca: TestCa, image: CardImage, kind: 'auth' | 'sign', reason: RevocationReason): ReturnType<typeof revokeCertificate> {
  const file = image.applets.jpki.files[kind === 'auth' ? '000A' : '0001'];
  if (!file) throw new Error(`the card "${image.label}" has no ${kind === 'auth' ? 'authentication' : 'signature'} certificate`);
  const der = fromBase64(file);
  let parsed;
  try {
    parsed = parseCertificate(der);
  } catch {
    throw new Error(`the ${kind} certificate of the card "${image.label}" (applets.jpki.files.${kind === 'auth' ? '000A' : '0001'}) is not an X.509 certificate`);
  }
  const problem = foreignIssuer(ca, kind, parsed);
  if (problem) throw new CardFromAnotherCaError(`the ${kind} certificate of the card "${image.label}" was not issued by the test CA in ${ca.dir}: ${problem}; name the CA that issued the card with --dir`);
  const serial = parsed.serial;
  try {
    return revokeCertificate(ca, serial, reason);
  } catch (e) {
    throw new Error(`${(e as Error).message} (was the card issued by the CA in ${ca.dir}?)`);
  }
}
