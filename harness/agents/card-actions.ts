/**
 * The card work of a login, done once for both agents: the PC agent (a browser's client software
 * over a reader) and the simulated phone (an app over NFC) sign the portal's nonce with the
 * authentication key and read the card-info files in exactly the same way, so a difference between
 * the two flows in a scenario is a difference of the flows, not of two card clients.
 *
 * Every failure leaves here as a `CardActionError` with one of the codes of
 * docs/portal-protocols.md, so the pages, the portal's `/fail` reports and the runner's logs all
 * speak of the same few things a person can act on.
 */
import * as pkijs from 'pkijs';
import { detachedSignedData, signedAttributes } from '../cms/signed-data.js';
import { concat, toHex, type Bytes } from '../../iso7816/bytes.js';
import { CardCommandError, JpkiClient, PinError, sha256DigestInfo } from '../jpki/jpki-client.js';
import type { ApduChannel } from '../../iso7816/apdu-channel.js';
import { ReaderError } from '../readers/reader.js';

/** The failure codes of the PC agent's protocol, also what the phone reports to `/api/qr/login/fail`. */
export type CardActionCode = 'NO_READER' | 'NO_CARD' | 'CARD_REMOVED' | 'WRONG_PIN' | 'PIN_BLOCKED' | 'CANCELLED' | 'CARD_ERROR' | 'NO_SIGNATURE_CERTIFICATE';

/** The PINs an agent asks for: the 4-digit authentication PIN and the 4-digit card-info PIN. */
export type AgentPin = 'auth' | 'kenhojo';

export class CardActionError extends Error {
  constructor(
    readonly code: CardActionCode,
    message: string,
    /** With WRONG_PIN: how many tries the card has left before the PIN blocks. */
    readonly triesLeft?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CardActionError';
  }
}

/**
 * The Japanese text the doc wants in every failure answer, written for the person at the reader or
 * phone; the technical cause goes to the logs, not here.
 */
export function cardActionMessage(code: CardActionCode, triesLeft?: number): string {
  switch (code) {
    case 'NO_READER':
      return 'カードリーダーが見つかりません。カードリーダーの接続を確認してください。';
    case 'NO_CARD':
      return 'マイナンバーカードが読み取れません。カードをカードリーダーに置いてください。';
    case 'CARD_REMOVED':
      return '読み取りの途中でマイナンバーカードが離れました。カードを置き直して、もう一度お試しください。';
    case 'WRONG_PIN':
      return triesLeft === undefined
        ? '暗証番号が正しくありません。'
        : `暗証番号が正しくありません。あと${triesLeft}回間違えると暗証番号がロックされます。`;
    case 'PIN_BLOCKED':
      return '暗証番号がロックされています。お住まいの市区町村の窓口で暗証番号の初期化を行ってください。';
    case 'CANCELLED':
      return '暗証番号の入力が取り消されました。';
    case 'CARD_ERROR':
      return 'マイナンバーカードを読み取れませんでした。マイナンバーカードであることを確認して、もう一度お試しください。';
    case 'NO_SIGNATURE_CERTIFICATE':
      return 'このマイナンバーカードには署名用電子証明書が搭載されていません。署名用電子証明書は、原則として15歳未満の方には発行されません。';
  }
}

/** What the card answered for a login: the signature over the nonce and the certificate to check it with. */
export interface SignedNonce {
  /** PKCS#1 v1.5 signature of the SHA-256 DigestInfo of the nonce (RSA-2048: 256 bytes). */
  signature: Bytes;
  /** DER X.509 authentication certificate (利用者証明用電子証明書). */
  certificate: Bytes;
}

/** The card-info files as read, for the portal to check and to find the person by. */
export interface CardInfoFiles {
  /** Kenhojo EF 0002: the FF 20 TLV with the basic-4 information. */
  basic4: Bytes;
  /** Kenhojo EF 0003: the hashes and the AP's signature over them (336 bytes). */
  basic4Signature: Bytes;
}

/** Kenhojo EF 0002 and EF 0003, as the card-info AP numbers them. */
const kBasic4Ef = 0x0002;
const kBasic4SignatureEf = 0x0003;
/** The size every client reads EF 0003 with (PYMYNA asserts it). */
export const kBasic4SignatureSize = 336;
/** `FF 20` + a length of up to `82 LL LL`: enough to know the whole size of EF 0002. */
const kBasic4HeaderSize = 5;
/** Short READ BINARY answers at most 256 bytes; not every reader (or phone) carries extended length. */
const kReadChunk = 256;

/**
 * Verifies the authentication PIN, reads the authentication certificate, and signs the SHA-256
 * DigestInfo of `nonce` with the authentication key — what `crypto.verify('sha256', nonce, cert,
 * signature)` accepts. The PIN is verified first so that a wrong PIN fails before anything else is
 * read, as the public clients do.
 */
export async function signNonceWithAuthKey(connection: ApduChannel, pin: string, nonce: Uint8Array): Promise<SignedNonce> {
  const client = new JpkiClient(connection);
  await client.verifyPin('auth', pin);
  const certificate = await client.readCertificate('auth');
  const signature = await client.signDigestInfo('auth', sha256DigestInfo(nonce));
  return { signature, certificate };
}

export { kCmsOids } from '../cms/signed-data.js';

/** What the card answers for a file or key that is not there: a minor's card has no signature key, certificate or password. */
const kSwFileNotFound = 0x6a82;

/**
 * Signs `document` with the signature key (署名用電子証明書) as a detached CMS SignedData, the form
 * the signing apps hand to a portal: SHA-256, the signer's certificate included, and the signed
 * attributes content-type (id-data), signing-time and message-digest (SHA-256 of the document).
 * The card only signs a DigestInfo; the CMS around it is built here, off the card, as in reality:
 * the card signs the SHA-256 DigestInfo of the DER SET of the signed attributes.
 *
 * The password is verified first; a card without the signature application's files (6A82: a
 * minor's card) is NO_SIGNATURE_CERTIFICATE.
 */
export async function signDocumentWithSignKey(connection: ApduChannel, password: string, document: Uint8Array, signingTime: Date = new Date()): Promise<Bytes> {
  const client = new JpkiClient(connection);
  let certificateDer: Bytes;
  let signAttributes: (signedAttributesDer: Uint8Array) => Promise<Bytes>;
  try {
    await client.verifyPin('sign', password);
    certificateDer = await client.readCertificate('sign');
    signAttributes = (der) => client.signDigestInfo('sign', sha256DigestInfo(der));
  } catch (e) {
    if (e instanceof CardCommandError && !(e instanceof PinError) && e.sw === kSwFileNotFound) {
      throw new CardActionError('NO_SIGNATURE_CERTIFICATE', cardActionMessage('NO_SIGNATURE_CERTIFICATE'), undefined, { cause: e });
    }
    throw e;
  }
  const signed = signedAttributes(document, signingTime);
  return detachedSignedData([pkijs.Certificate.fromBER(certificateDer)], signed, await signAttributes(signed.toBeSigned));
}

/**
 * Selects the card-info AP, verifies its PIN and reads EF 0002 (a header read for its length, then
 * the rest) and EF 0003, returning the raw bytes: the relying party checks the hash and signature
 * over exactly what the card holds, so nothing here decodes or re-encodes them.
 */
export async function readCardInfo(connection: ApduChannel, pin: string): Promise<CardInfoFiles> {
  const client = new JpkiClient(connection);
  await client.verifyPin('kenhojo', pin);
  await client.selectEf(kBasic4Ef);
  const header = await client.readBinary(0, kBasic4HeaderSize);
  const total = basic4FileSize(header);
  const basic4 = total > header.length ? concat(header, await readChunks(client, header.length, total - header.length)) : header.subarray(0, total);
  await client.selectEf(kBasic4SignatureEf);
  const basic4Signature = await readChunks(client, 0, kBasic4SignatureSize);
  return { basic4, basic4Signature };
}

/**
 * Tries left of a PIN by the empty VERIFY, which uses none; undefined when the card does not say
 * (it answered something other than 63 Cx, e.g. 90 00 for a PIN still verified). The agents ask
 * it before asking a person, so that a blocked PIN is reported without a pointless prompt.
 */
export async function pinTriesLeft(connection: ApduChannel, pin: AgentPin): Promise<number | undefined> {
  try {
    const tries = await new JpkiClient(connection).pinTriesLeft(pin);
    return tries >= 0 ? tries : undefined;
  } catch (e) {
    // Only the card's own refusal is "does not say"; a reader that lost the card must fail the request.
    if (e instanceof CardCommandError) return undefined;
    throw e;
  }
}

/** Turns whatever a card action threw into the doc's codes; an unknown error is a CARD_ERROR (and a bug to log). */
export function toCardActionError(error: unknown): CardActionError {
  if (error instanceof CardActionError) return error;
  if (error instanceof PinError) {
    return error.blocked
      ? new CardActionError('PIN_BLOCKED', cardActionMessage('PIN_BLOCKED'), undefined, { cause: error })
      : new CardActionError('WRONG_PIN', cardActionMessage('WRONG_PIN', error.triesLeft), error.triesLeft, { cause: error });
  }
  if (error instanceof ReaderError) {
    const code: CardActionCode =
      error.code === 'NO_READER' || error.code === 'PCSC_UNAVAILABLE'
        ? 'NO_READER'
        : error.code === 'NO_CARD' || error.code === 'TIMEOUT'
          ? 'NO_CARD'
          : error.code === 'CARD_REMOVED'
            ? 'CARD_REMOVED'
            : 'CARD_ERROR';
    return new CardActionError(code, cardActionMessage(code), undefined, { cause: error });
  }
  return new CardActionError('CARD_ERROR', cardActionMessage('CARD_ERROR'), undefined, { cause: error });
}

/** One line for logs: the code, and the technical cause that the Japanese message leaves out. */
export function describeCardActionError(error: CardActionError): string {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.code}${error.triesLeft === undefined ? '' : ` (${error.triesLeft} tries left)`}${cause}`;
}

async function readChunks(client: JpkiClient, offset: number, length: number): Promise<Bytes> {
  const chunks: Bytes[] = [];
  let done = 0;
  while (done < length) {
    const chunk = await client.readBinary(offset + done, Math.min(kReadChunk, length - done));
    if (chunk.length === 0) throw new CardActionError('CARD_ERROR', cardActionMessage('CARD_ERROR'), undefined, { cause: new Error(`the EF ended at ${offset + done} of ${offset + length} bytes`) });
    chunks.push(chunk);
    done += chunk.length;
  }
  return concat(...chunks).subarray(0, length);
}

/** The whole size of the `FF 20` TLV of EF 0002 from its first bytes (short or long form length). */
function basic4FileSize(header: Uint8Array): number {
  const problem = (why: string): CardActionError =>
    new CardActionError('CARD_ERROR', cardActionMessage('CARD_ERROR'), undefined, { cause: new Error(`kenhojo EF 0002 ${why}`) });
  if (header[0] !== 0xff || header[1] !== 0x20) throw problem(`does not start with the FF 20 tag (got ${toHex(header.subarray(0, 2))})`);
  const first = header[2];
  if (first === undefined) throw problem('is shorter than its header');
  if (first < 0x80) return 3 + first;
  const count = first & 0x7f;
  if (count < 1 || count > 2 || header.length < 3 + count) throw problem(`has an unexpected length form 0x${first.toString(16)}`);
  let length = 0;
  for (let i = 0; i < count; i++) length = (length << 8) | header[3 + i]!;
  return 3 + count + length;
}
