/**
 * Card-level certification steps: what a reader or a phone must carry between a relying party's
 * client and the card, checked on the answers themselves — certificates parsed and chained with
 * node:crypto, signatures verified against the card's own certificates, the basic 4 compared with
 * what the signature certificate says. They talk to the card only through the scenario's reader
 * (ctx.reader), so every APDU is in the report's trace, and the same step certifies the in-process
 * emulator, a USB reader on pcscd, or an NFC bridge.
 *
 * A wrong answer from the card (or from the reader carrying it) is the product's fault:
 * `throw ctx.fail.product(…)`. A step that cannot run at all throws a plain Error (the harness's).
 */
import { constants, createHash, publicDecrypt, randomBytes, verify, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CardCommandError, JpkiClient, kAids, sha256DigestInfo, type CardConnection, type CertificateKind, type CustomStepContext, type JpkiPin } from 'jpki-hil/steps';

const kCertificateEf: Record<CertificateKind, number> = { sign: 0x0001, signCa: 0x0002, auth: 0x000a, authCa: 0x000b };
const kKeyEf: Record<JpkiPin, number> = { auth: 0x0017, sign: 0x001a };
const kSwSecurityNotSatisfied = 0x6982;
const kSwConditionsNotSatisfied = 0x6985;
/** The JPKI SAN otherName arc of the signature certificate: .1 name, .3 sex, .4 birth, .5 address. */
const kSanArc = '1.2.392.200149.8.5.5';

type Fail = CustomStepContext['fail'];

/** One connection for the step; always reset at the end so no verified PIN outlives it. */
async function withClient<T>(ctx: CustomStepContext, use: (client: JpkiClient, connection: CardConnection) => Promise<T>): Promise<T> {
  const connection = await ctx.reader.connect();
  try {
    return await use(new JpkiClient(connection), connection);
  } catch (e) {
    if (e instanceof CardCommandError) throw ctx.fail.product(`the card refused: ${e.message}`);
    throw e;
  } finally {
    await connection.disconnect('reset').catch(() => undefined);
  }
}

/** The DER length of a certificate from its first 4 bytes (30 82 LL LL). */
function derTotal(header: Uint8Array, fail: Fail, what: string): number {
  if (header.length < 4 || header[0] !== 0x30 || header[1] !== 0x82) {
    throw fail.product(`${what} does not start with a DER SEQUENCE with a 2-byte length: ${Buffer.from(header.slice(0, 4)).toString('hex')}`);
  }
  return ((header[2]! << 8) | header[3]!) + 4;
}

/**
 * Reads the selected EF's certificate in READ BINARY commands of at most `chunk` bytes each (short
 * APDUs: 1..256), checking that every answer is exactly as long as asked.
 */
async function readInChunks(client: JpkiClient, chunk: number, what: string, fail: Fail): Promise<Uint8Array> {
  const header = await client.readBinary(0, Math.min(4, chunk));
  const start = header.length >= 4 ? header : Buffer.concat([header, await client.readBinary(header.length, 4 - header.length)]);
  const total = derTotal(start, fail, what);
  const parts: Uint8Array[] = [start.slice(0, Math.min(start.length, total))];
  let offset = parts[0]!.length;
  while (offset < total) {
    const want = Math.min(chunk, total - offset);
    const part = await client.readBinary(offset, want);
    if (part.length !== want) throw fail.product(`${what}: READ BINARY at ${offset} for ${want} bytes answered ${part.length}`);
    parts.push(part);
    offset += part.length;
  }
  return Buffer.concat(parts);
}

function parseCertificate(der: Uint8Array, what: string, fail: Fail): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    throw fail.product(`${what} is not an X.509 certificate: ${(e as Error).message}`);
  }
}

function checkIssuedBy(cert: X509Certificate, ca: X509Certificate, what: string, fail: Fail): void {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw fail.product(`${what} is not issued by the CA certificate on the same card (${ca.subject.replace(/\n/g, ', ')})`);
  const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength;
  if (cert.publicKey.asymmetricKeyType !== 'rsa' || bits !== 2048) throw fail.product(`${what} holds a ${cert.publicKey.asymmetricKeyType} ${bits ?? '?'}-bit key, not RSA 2048`);
}

function fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

function chunkArg(ctx: CustomStepContext): number {
  const chunk = Number(ctx.args.chunk ?? 256);
  if (!Number.isInteger(chunk) || chunk < 4 || chunk > 256) throw new Error(`with.chunk must be an integer from 4 to 256 (short READ BINARY), not ${String(ctx.args.chunk)}`);
  return chunk;
}

/**
 * Both certificates and both CA certificates, in short READ BINARY chunks (`with: { chunk: 255 }`;
 * default 256). The signature certificate must be refused before the signature password is
 * verified (6982) and readable after it. Checks: each parses, chains to its CA certificate from the
 * card, RSA-2048; the auth certificate carries no personal data. Saves the SHA-256 fingerprints as
 * ${saved.authCertificate} and ${saved.signCertificate} for later steps.
 */
export async function readCertificatesInChunks(ctx: CustomStepContext): Promise<void> {
  const chunk = chunkArg(ctx);
  const { fail } = ctx;
  await withClient(ctx, async (client) => {
    // One SELECT of the AP: selecting it again would drop the verified password.
    await client.selectAp(kAids.jpki);
    const read = async (kind: CertificateKind): Promise<Uint8Array> => {
      await client.selectEf(kCertificateEf[kind]);
      return readInChunks(client, chunk, `the ${kind} certificate`, fail);
    };
    const auth = await read('auth');
    const authCa = await read('authCa');
    const signCa = await read('signCa');

    await client.selectEf(kCertificateEf.sign);
    try {
      await client.readBinary(0, 4);
      throw fail.product('the signature certificate was readable before the signature password was verified');
    } catch (e) {
      if (!(e instanceof CardCommandError)) throw e;
      if (e.sw !== kSwSecurityNotSatisfied) throw fail.product(`reading the signature certificate before the password answered ${e.sw.toString(16).toUpperCase()}, expected 6982`);
    }
    await client.verifyPin('sign', ctx.card.pins.sign);
    const sign = await read('sign');

    const certs = {
      auth: parseCertificate(auth, 'the auth certificate', fail),
      authCa: parseCertificate(authCa, 'the auth CA certificate', fail),
      sign: parseCertificate(sign, 'the signature certificate', fail),
      signCa: parseCertificate(signCa, 'the signature CA certificate', fail),
    };
    checkIssuedBy(certs.auth, certs.authCa, 'the auth certificate', fail);
    checkIssuedBy(certs.sign, certs.signCa, 'the signature certificate', fail);
    if (certs.auth.subjectAltName !== undefined) throw fail.product(`the auth certificate carries a subjectAltName (${certs.auth.subjectAltName}); it must hold no personal data`);
    // The same bytes when read with other chunk boundaries (small enough for any device).
    const other = chunk === 100 ? 64 : 100;
    await client.selectEf(kCertificateEf.auth);
    const again = await readInChunks(client, other, 'the auth certificate', fail);
    if (Buffer.compare(Buffer.from(again), Buffer.from(auth)) !== 0) throw fail.product(`the auth certificate read in ${chunk}-byte chunks differs from the one read in ${other}-byte chunks`);
    ctx.saved.authCertificate = fingerprint(auth);
    ctx.saved.signCertificate = fingerprint(sign);
    ctx.log(`auth ${auth.length} B (serial ${certs.auth.serialNumber}), sign ${sign.length} B (serial ${certs.sign.serialNumber}), CA ${authCa.length} B / ${signCa.length} B, in ${chunk}-byte chunks`);
  });
}

/**
 * One READ BINARY with an extended Le (`00 B0 00 00 00 00 00`: as much as the EF holds) for the
 * certificate `with: { kind: auth | sign | authCa | signCa }` (default auth; sign verifies the
 * password first). The answer must hold the whole certificate in one response, the same bytes as
 * short chunked reads.
 */
export async function readCertificateExtended(ctx: CustomStepContext): Promise<void> {
  const kind = String(ctx.args.kind ?? 'auth') as CertificateKind;
  if (!(kind in kCertificateEf)) throw new Error(`with.kind must be one of ${Object.keys(kCertificateEf).join(', ')}`);
  const { fail } = ctx;
  await withClient(ctx, async (client) => {
    await client.selectAp(kAids.jpki);
    if (kind === 'sign') await client.verifyPin('sign', ctx.card.pins.sign);
    await client.selectEf(kCertificateEf[kind]);
    const { data } = await client.send({ cla: 0x00, ins: 0xb0, p1: 0x00, p2: 0x00, ne: 65536, extended: true }, `READ BINARY (extended Le) of the ${kind} certificate`);
    const total = derTotal(data, fail, `the extended READ BINARY answer`);
    if (data.length < total) throw fail.product(`one extended READ BINARY returned ${data.length} bytes of a ${total}-byte certificate`);
    const der = data.slice(0, total);
    parseCertificate(der, `the ${kind} certificate`, fail);
    const chunked = await client.readCertificate(kind);
    if (Buffer.compare(Buffer.from(chunked), Buffer.from(der)) !== 0) throw fail.product(`the ${kind} certificate read with one extended READ BINARY differs from the one read in short chunks`);
    const known = kind === 'auth' ? ctx.saved.authCertificate : kind === 'sign' ? ctx.saved.signCertificate : undefined;
    if (known !== undefined && known !== fingerprint(der)) throw fail.product(`the ${kind} certificate differs from the one read by the earlier step`);
    ctx.log(`the ${kind} certificate, ${total} bytes, in one response of ${data.length} bytes`);
  });
}

/**
 * Signs with both keys as the clients do (VERIFY, then 80 2A 00 80 with a SHA-256 DigestInfo) and
 * verifies each signature with node:crypto against the certificate read from the card — and, by
 * RSA public decryption, that the card padded exactly the DigestInfo it was given (PKCS#1 v1.5).
 * Before its PIN, each key must refuse to sign (6982, or 6985 where a card profile says so).
 */
export async function signWithBothKeys(ctx: CustomStepContext): Promise<void> {
  const { fail } = ctx;
  await withClient(ctx, async (client) => {
    const certs: Partial<Record<JpkiPin, X509Certificate>> = {};
    for (const key of ['auth', 'sign'] as const) {
      await client.selectAp(kAids.jpki);
      await client.selectEf(kKeyEf[key]);
      const probe = sha256DigestInfo(randomBytes(16));
      const refused = await client
        .send({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: probe, ne: 256 }, `SIGN with the ${key} key before its PIN`, [0x9000, kSwSecurityNotSatisfied, kSwConditionsNotSatisfied])
        .then((r) => r.sw);
      if (refused === 0x9000) throw fail.product(`the ${key} key signed before its PIN was verified`);

      await client.verifyPin(key, key === 'auth' ? ctx.card.pins.auth : ctx.card.pins.sign);
      const der = await client.readCertificate(key);
      const cert = parseCertificate(der, `the ${key} certificate`, fail);
      certs[key] = cert;
      const data = randomBytes(64);
      const digestInfo = sha256DigestInfo(data);
      const signature = await client.signDigestInfo(key, digestInfo);
      if (signature.length !== 256) throw fail.product(`the ${key} key's signature is ${signature.length} bytes, not 256 (RSA-2048)`);
      if (!verify('sha256', data, cert.publicKey, signature)) throw fail.product(`the ${key} key's signature does not verify against the ${key} certificate on the card`);
      const recovered = publicDecrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      if (Buffer.compare(recovered, Buffer.from(digestInfo)) !== 0) throw fail.product(`the ${key} key's signature does not carry the DigestInfo it was given`);
      ctx.log(`the ${key} key signed; the signature verifies against certificate ${cert.serialNumber}`);
    }
    if (certs.auth!.publicKey.export({ format: 'der', type: 'spki' }).equals(certs.sign!.publicKey.export({ format: 'der', type: 'spki' }))) {
      throw fail.product('the auth and signature certificates hold the same key');
    }
  });
}

/** The signature certificate's SAN otherNames (JPKI arc) → text values. */
function jpkiOtherNames(der: Uint8Array, fail: Fail): Map<string, string> {
  const cert = pkijs.Certificate.fromBER(der);
  const ext = cert.extensions?.find((e) => e.extnID === '2.5.29.17');
  if (!ext) throw fail.product('the signature certificate has no subjectAltName (the basic 4)');
  const names = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result as asn1js.Sequence;
  const out = new Map<string, string>();
  for (const name of names.valueBlock.value) {
    if (name.idBlock.tagClass !== 3 || name.idBlock.tagNumber !== 0) continue;
    const [typeId, wrapped] = (name as asn1js.Constructed).valueBlock.value;
    const value = (wrapped as asn1js.Constructed | undefined)?.valueBlock.value[0] as { valueBlock?: { value?: unknown } } | undefined;
    if (typeId instanceof asn1js.ObjectIdentifier && typeof value?.valueBlock?.value === 'string') out.set(typeId.valueBlock.toString(), value.valueBlock.value);
  }
  return out;
}

/**
 * The card-info AP (券面事項入力補助AP): SELECT it, VERIFY its 4-digit PIN, read the basic 4 (EF 0002:
 * name, address, birth, sex) and check them against `with: { name, address, birth, sex }` when given,
 * and independently against the signature certificate's subjectAltName on the same card.
 */
export async function readBasicFour(ctx: CustomStepContext): Promise<void> {
  const { fail } = ctx;
  await withClient(ctx, async (client) => {
    const basic4 = await client.readBasicFour(ctx.card.pins.kenhojo);
    ctx.log(`basic 4: ${basic4.name} / ${basic4.address} / ${basic4.birth} / sex ${basic4.sex}`);
    for (const key of ['name', 'address', 'birth', 'sex'] as const) {
      const wanted = ctx.args[key];
      if (wanted !== undefined && String(wanted) !== basic4[key]) throw fail.product(`the card-info AP gives ${key} "${basic4[key]}", expected "${String(wanted)}"`);
    }
    await client.verifyPin('sign', ctx.card.pins.sign);
    const san = jpkiOtherNames(await client.readCertificate('sign'), fail);
    const compare = (what: string, fromCert: string | undefined, fromAp: string): void => {
      if (fromCert !== fromAp) throw fail.product(`the ${what} differs: card-info AP "${fromAp}", signature certificate "${fromCert ?? '(none)'}"`);
    };
    compare('name', san.get(`${kSanArc}.1`), basic4.name);
    compare('address', san.get(`${kSanArc}.5`), basic4.address);
    compare('sex', san.get(`${kSanArc}.3`), basic4.sex);
    // The certificate writes the birth date as era digit + YYYYMMDD.
    compare('date of birth', san.get(`${kSanArc}.4`)?.replace(/^\d?(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3'), basic4.birth);
  });
}

/**
 * SELECT by name of another card's AID (`with: { aid }`), which this card must answer with 6A82
 * (file not found), then SELECT of the JPKI AP and a read of its token — what a multi-card app does.
 */
export async function probeOtherAidThenJpki(ctx: CustomStepContext): Promise<void> {
  const aid = String(ctx.args.aid ?? '');
  if (!/^([0-9A-F]{2}){5,16}$/.test(aid)) throw new Error(`with.aid must be an AID of 5 to 16 bytes in upper-case hex, not ${aid}`);
  await withClient(ctx, async (client) => {
    const probe = await client.send({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: Buffer.from(aid, 'hex') }, `SELECT ${aid}`, [0x9000, 0x6a82]);
    if (probe.sw !== 0x6a82) throw ctx.fail.product(`the card selected the foreign AID ${aid} (9000) instead of answering 6A82`);
    await client.selectAp(kAids.jpki);
    const token = await client.readToken();
    if (!token.startsWith('JPKIAPICCTOKEN')) throw ctx.fail.product(`the JPKI AP's token reads "${token}"`);
  });
}
