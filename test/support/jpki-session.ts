/**
 * Everything a relying party's client does with the card in one session, as comparable data: the
 * reader tests run it through a transport and in-process and expect the same result.
 */
import { readCardInfo } from '../../harness/cli/commands/readers.js';
import { JpkiClient, PinError, sha256DigestInfo, type CertificateKind } from '../../harness/jpki/jpki-client.js';
import type { CardConnection } from '../../harness/readers/reader.js';
import { toHex } from '../../iso7816/bytes.js';

/** The certificate EFs of the JPKI AP, by the JPKI client's names. */
export const kCertificateFiles: Record<CertificateKind, string> = { auth: '000A', authCa: '000B', sign: '0001', signCa: '0002' };

export async function jpkiSession(connection: CardConnection, pins: { auth: string; sign: string; kenhojo: string }, message: Uint8Array) {
  const client = new JpkiClient(connection);
  const token = await client.readToken();
  const triesBefore = { auth: await client.pinTriesLeft('auth'), sign: await client.pinTriesLeft('sign'), kenhojo: await client.pinTriesLeft('kenhojo') };
  await client.verifyPin('auth', pins.auth);
  const authSignature = toHex(await client.signDigestInfo('auth', sha256DigestInfo(message)));
  await client.verifyPin('sign', pins.sign);
  const signSignature = toHex(await client.signDigestInfo('sign', sha256DigestInfo(message)));
  const certificates: Record<string, string> = {};
  for (const kind of Object.keys(kCertificateFiles) as CertificateKind[]) certificates[kind] = toHex(await client.readCertificate(kind));
  // One extended-length READ BINARY (Le 0000) brings the whole certificate: a long R-APDU, several
  // packets on the NFC bridge.
  await client.selectEf(0x000a);
  const { data: wholeEf } = await client.send({ cla: 0x00, ins: 0xb0, p1: 0, p2: 0, ne: 65536 }, 'READ BINARY extended');
  const myNumber = await client.readMyNumber(pins.kenhojo);
  const basic4 = await client.readBasicFour(pins.kenhojo);
  const wrong = await client.verifyPin('auth', pins.auth === '9999' ? '9998' : '9999').catch((e: unknown) => e);
  const wrongPinTriesLeft = wrong instanceof PinError ? wrong.triesLeft : String(wrong);
  const triesAfter = { auth: await client.pinTriesLeft('auth'), sign: await client.pinTriesLeft('sign') };
  // The ATR stays in: a transport's ATR must equal the in-process card's.
  const { reader: _name, ...info } = await readCardInfo(connection, { kenhojoPin: pins.kenhojo, signPin: pins.sign });
  return { token, triesBefore, authSignature, signSignature, certificates, wholeEf: toHex(wholeEf), myNumber, basic4, wrongPinTriesLeft, triesAfter, info };
}
