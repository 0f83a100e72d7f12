/**
 * 公的個人認証AP (JPKI AP), AID D3 92 F0 00 26 01 00 00 00 01: the certificates, the two RSA-2048
 * keys and the two PINs. The card signs what it is given (a DigestInfo) with PKCS#1 v1.5 type-1
 * padding applied on the card.
 */
import { constants, privateEncrypt } from 'node:crypto';
import type { CommandApdu } from '../../iso7816/apdu.js';
import { fromHex, type Bytes } from '../../iso7816/bytes.js';
import { CardError, SW } from '../../iso7816/status-words.js';
import type { Applet, CardContext } from '../card/applet.js';
import { needsPin, type ElementaryFile } from '../card/file-system.js';
import { INS } from '../../iso7816/instructions.js';
import { isAllowed, kIsoInstructions } from '../card/iso-commands.js';
import type { CardImageStore } from '../image/image-store.js';
import { binaryFiles, fileTable } from './applet-files.js';

export const kJpkiAid = fromHex('D392F000260100000001');

export const JPKI_EF = {
  SIGN_CERT: 0x0001,
  SIGN_CA_CERT: 0x0002,
  TOKEN: 0x0006,
  AUTH_CERT: 0x000a,
  AUTH_CA_CERT: 0x000b,
  AUTH_KEY: 0x0017,
  AUTH_PIN: 0x0018,
  SIGN_KEY: 0x001a,
  SIGN_PIN: 0x001b,
} as const;

/** The largest input for PKCS#1 v1.5 type-1 padding with a 2048-bit key (k - 11). */
const kMaxSignInput = 256 - 11;

function computeDigitalSignature(cmd: CommandApdu, ctx: CardContext): Bytes {
  if (cmd.p1 !== 0x00 || cmd.p2 !== 0x80) throw new CardError(SW.INCORRECT_P1P2);
  const file = ctx.currentEf;
  if (!file || file.kind !== 'key') throw new CardError(SW.NO_CURRENT_EF, 'select the key EF (0017 or 001A) first');
  if (!isAllowed(ctx, file.use)) throw new CardError(parseInt(ctx.options.signWithoutPinSw, 16), `the ${file.key} PIN is not verified`);
  if (cmd.data.length === 0 || cmd.data.length > kMaxSignInput) {
    throw new CardError(SW.WRONG_LENGTH, `the data to sign must be 1 to ${kMaxSignInput} bytes, got ${cmd.data.length}`);
  }
  const key = ctx.keys.get(file.key);
  if (!key) throw new CardError(SW.FILE_NOT_FOUND);
  // privateEncrypt with PKCS1 padding is exactly EMSA-PKCS1-v1_5 type 1 followed by the RSA private operation.
  return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, cmd.data));
}

export function createJpkiApplet(store: CardImageStore): Applet {
  const jpki = store.image.applets.jpki;
  const hasSignKey = jpki.keys.sign !== undefined;
  const files: ElementaryFile[] = binaryFiles(jpki.files, (fid) => (fid === JPKI_EF.SIGN_CERT ? needsPin('sign') : undefined));
  files.push({ kind: 'key', fid: JPKI_EF.AUTH_KEY, key: 'auth', use: needsPin('auth') });
  files.push({ kind: 'pin', fid: JPKI_EF.AUTH_PIN, pin: 'auth' });
  // A card issued to a person under 15 has no signature key, certificate or password.
  if (hasSignKey) {
    files.push({ kind: 'key', fid: JPKI_EF.SIGN_KEY, key: 'sign', use: needsPin('sign') });
    files.push({ kind: 'pin', fid: JPKI_EF.SIGN_PIN, pin: 'sign' });
  }
  return {
    name: 'jpki',
    aid: kJpkiAid,
    files: fileTable(files),
    instructions: new Map([...kIsoInstructions, [INS.COMPUTE_DIGITAL_SIGNATURE, { cla: [0x80], handle: computeDigitalSignature }]]),
  };
}
