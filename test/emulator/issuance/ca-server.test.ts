import { execFile } from 'node:child_process';
import { X509Certificate, createHash, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import type { FastifyInstance } from 'fastify';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCaServer, initCa, issueCard, loadCa, type TestCa } from '../../../emulator/index.js';
import { revokeCertificate } from '../../../emulator/issuance/test-ca.js';
import { checkCrlBaseUrl, registerCaServeCommand, serveCa } from '../../../harness/cli/commands/ca-serve.js';
import type { CommandContext, CommandRegistrar } from '../../../harness/cli/command.js';
import { runRegistrar } from '../../harness/readers/run-registrar.js';
import { definition, tempDir } from '../../support/cards.js';

// Async on purpose: the server under test runs in this process, so a blocking exec would deadlock it.
const run = promisify(execFile);

/** stdout and stderr together (openssl ocsp reports on both), whatever the exit status. */
async function openssl(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('openssl', args, { encoding: 'utf8' });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

const pem = (der: Uint8Array): string => new X509Certificate(der).toString();

interface Card {
  auth: Uint8Array;
  sign: Uint8Array;
  authSerial: string;
  signSerial: string;
}

async function issue(ca: TestCa): Promise<Card> {
  const { image } = await issueCard(ca, definition('adult'));
  const files = image.applets.jpki.files;
  const auth = Buffer.from(files['000A'] ?? '', 'base64');
  const sign = Buffer.from(files['0001'] ?? '', 'base64');
  // node prints serials the way ca.json and openssl do: upper-case, whole bytes.
  return { auth, sign, authSerial: new X509Certificate(auth).serialNumber, signSerial: new X509Certificate(sign).serialNumber };
}

/** A pkijs OCSP request for `cert` (optionally with another serial, a nonce, a CertID hash other than SHA-256). */
async function ocspRequest(cert: Uint8Array, issuer: Uint8Array, options: { serial?: number; nonce?: Uint8Array; hash?: string } = {}): Promise<Uint8Array> {
  const request = new pkijs.OCSPRequest();
  const hashAlgorithm = options.hash ?? 'SHA-256';
  await request.createForCertificate(pkijs.Certificate.fromBER(cert), { hashAlgorithm, issuerCertificate: pkijs.Certificate.fromBER(issuer) });
  const certId = request.tbsRequest.requestList[0]!.reqCert;
  if (options.serial !== undefined) certId.serialNumber = new asn1js.Integer({ value: options.serial });
  if (options.nonce !== undefined) {
    const extnValue = new asn1js.OctetString({ valueHex: options.nonce }).toBER(false);
    request.tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue })];
  }
  return new Uint8Array(request.toSchema(true).toBER(false));
}

function parseResponse(der: Uint8Array): { status: number; basic?: pkijs.BasicOCSPResponse } {
  const response = pkijs.OCSPResponse.fromBER(der);
  const status = response.responseStatus.valueBlock.valueDec;
  if (response.responseBytes === undefined) return { status };
  return { status, basic: pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView) };
}

/** good / revoked / unknown from the implicit tag of the first SingleResponse's certStatus. */
function firstStatus(basic: pkijs.BasicOCSPResponse): string {
  const tag = (basic.tbsResponseData.responses[0]!.certStatus as asn1js.BaseBlock).idBlock.tagNumber;
  return ['good', 'revoked', 'unknown'][tag] ?? `tag ${tag}`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the CA server: CRLs and OCSP over HTTP', () => {
  const dir = tempDir();
  let ca: TestCa;
  let other: TestCa;
  let ocspCard: Card;
  let crlCard: Card;
  let otherCard: Card;
  let app: FastifyInstance;
  let base: string;
  const logLines: string[] = [];
  const files = { authCa: '', signCa: '', auth: '', sign: '', otherAuth: '' };

  beforeAll(async () => {
    ca = initCa(join(dir.path, 'ca'));
    other = initCa(join(dir.path, 'other-ca'));
    [ocspCard, crlCard, otherCard] = [await issue(ca), await issue(ca), await issue(other)];
    app = buildCaServer(ca.dir, { log: (line) => logLines.push(line) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    files.authCa = join(ca.dir, 'auth-ca.pem');
    files.signCa = join(ca.dir, 'sign-ca.pem');
    for (const [name, der] of [
      ['auth', ocspCard.auth],
      ['sign', ocspCard.sign],
      ['otherAuth', otherCard.auth],
    ] as const) {
      files[name] = join(dir.path, `${name}.pem`);
      writeFileSync(files[name], pem(der));
    }
  });
  afterAll(async () => {
    await app.close();
    dir.remove();
  });

  describe('CRLs', () => {
    it('serves both CRLs as DER application/pkix-crl, the bytes of the files on disk', async () => {
      for (const name of ['auth', 'sign']) {
        const r = await app.inject({ method: 'GET', url: `/crl/${name}.crl` });
        expect(r.statusCode).toBe(200);
        expect(r.headers['content-type']).toBe('application/pkix-crl');
        expect(new Uint8Array(r.rawPayload)).toEqual(new Uint8Array(readFileSync(join(ca.dir, `${name}.crl`))));
      }
      expect((await app.inject({ method: 'GET', url: '/crl/other.crl' })).statusCode).toBe(404);
    });

    it('openssl crl parses what is served, and a revocation shows up in the very next fetch', async () => {
      const fetchCrl = async (): Promise<string> => {
        const response = await fetch(`${base}/crl/sign.crl`);
        expect(response.status).toBe(200);
        const path = join(dir.path, `sign-${Date.now()}.crl`);
        writeFileSync(path, new Uint8Array(await response.arrayBuffer()));
        return openssl(['crl', '-inform', 'DER', '-in', path, '-noout', '-text']);
      };
      const before = await fetchCrl();
      expect(before).toContain('Issuer: C = JP, O = JPKI, OU = JPKI TEST for digital signature');
      expect(before).not.toContain(`Serial Number: ${crlCard.signSerial}`);

      revokeCertificate(ca, crlCard.signSerial, 'keyCompromise');
      const after = await fetchCrl();
      expect(after).toContain(`Serial Number: ${crlCard.signSerial}`);
      expect(after).toContain('Key Compromise');
      // The CRL is verified against the CA certificate a relying party is given.
      const path = join(dir.path, 'verify.crl');
      writeFileSync(path, new Uint8Array(await (await fetch(`${base}/crl/sign.crl`)).arrayBuffer()));
      expect(await openssl(['crl', '-inform', 'DER', '-in', path, '-noout', '-CAfile', files.signCa])).toContain('verify OK');
    });
  });

  describe('OCSP', () => {
    const ocsp = (cert: string, issuer: string): Promise<string> =>
      openssl(['ocsp', '-issuer', issuer, '-cert', cert, '-url', `${base}/ocsp`, '-CAfile', issuer]);

    it('openssl ocsp: good, then revoked with the reason right after revokeCertificate', async () => {
      const good = await ocsp(files.auth, files.authCa);
      expect(good).toContain('Response verify OK');
      expect(good).toMatch(/auth\.pem: good/);
      expect(good).not.toContain('WARNING'); // the nonce was echoed

      revokeCertificate(ca, ocspCard.authSerial, 'affiliationChanged');
      const revoked = await ocsp(files.auth, files.authCa);
      expect(revoked).toContain('Response verify OK');
      expect(revoked).toMatch(/auth\.pem: revoked/);
      expect(revoked).toContain('Reason: affiliationChanged');
      expect(revoked).toMatch(/Revocation Time: /);
      expect(logLines.some((l) => l.includes(`auth ${ocspCard.authSerial} revoked (affiliationChanged`))).toBe(true);
    });

    it('openssl ocsp: the signature CA answers for its own certificates', async () => {
      const out = await ocsp(files.sign, files.signCa);
      expect(out).toContain('Response verify OK');
      expect(out).toMatch(/sign\.pem: good/);
    });

    it('signs with the issuing CA key, echoes the nonce, thisUpdate now and nextUpdate one hour later', async () => {
      const nonce = Uint8Array.from(createHash('sha256').update('nonce').digest().subarray(0, 16));
      const t = new Date('2030-01-02T03:04:05.678Z');
      const clocked = buildCaServer(ca.dir, { now: () => t });
      const r = await clocked.inject({
        method: 'POST',
        url: '/ocsp',
        headers: { 'content-type': 'application/ocsp-request' },
        payload: Buffer.from(await ocspRequest(crlCard.auth, ca.auth.certificate, { nonce })),
      });
      await clocked.close();
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('application/ocsp-response');
      const { status, basic } = parseResponse(new Uint8Array(r.rawPayload));
      expect(status).toBe(0);
      expect(firstStatus(basic!)).toBe('good');
      const single = basic!.tbsResponseData.responses[0]!;
      expect(single.thisUpdate.toISOString()).toBe('2030-01-02T03:04:05.000Z');
      expect(single.nextUpdate?.toISOString()).toBe('2030-01-02T04:04:05.000Z');
      const echoed = basic!.tbsResponseData.responseExtensions?.find((e) => e.extnID === '1.3.6.1.5.5.7.48.1.2');
      expect(new Uint8Array(echoed!.extnValue.valueBlock.valueHexView)).toEqual(new Uint8Array(new asn1js.OctetString({ valueHex: nonce }).toBER(false)));
      const caKey = new X509Certificate(ca.auth.certificate).publicKey;
      expect(verify('sha256', basic!.tbsResponseData.tbsView, caKey, basic!.signature.valueBlock.valueHexView)).toBe(true);
      expect(verify('sha256', basic!.tbsResponseData.tbsView, new X509Certificate(ca.sign.certificate).publicKey, basic!.signature.valueBlock.valueHexView)).toBe(false);
    });

    it('answers unknown for a serial the CA never issued', async () => {
      const r = await app.inject({
        method: 'POST',
        url: '/ocsp',
        headers: { 'content-type': 'application/ocsp-request' },
        payload: Buffer.from(await ocspRequest(crlCard.auth, ca.auth.certificate, { serial: 0x0a7fffff })),
      });
      const { status, basic } = parseResponse(new Uint8Array(r.rawPayload));
      expect(status).toBe(0);
      expect(firstStatus(basic!)).toBe('unknown');
    });

    it('answers the GET form, base64url and URL-encoded standard base64 alike, and openssl accepts the response', async () => {
      // SHA-1 CertID: openssl looks the certificate up with the hash it would itself have sent.
      const request = await ocspRequest(ocspCard.sign, ca.sign.certificate, { hash: 'SHA-1' });
      const b64 = Buffer.from(request).toString('base64');
      const forms = [Buffer.from(request).toString('base64url'), encodeURIComponent(b64)];
      for (const form of forms) {
        const r = await app.inject({ method: 'GET', url: `/ocsp/${form}` });
        expect(r.statusCode).toBe(200);
        const { status, basic } = parseResponse(new Uint8Array(r.rawPayload));
        expect(status).toBe(0);
        expect(firstStatus(basic!)).toBe('good');
        const respFile = join(dir.path, 'get.ocsp');
        writeFileSync(respFile, r.rawPayload);
        const out = await openssl(['ocsp', '-respin', respFile, '-issuer', files.signCa, '-cert', files.sign, '-CAfile', files.signCa, '-no_nonce']);
        expect(out).toContain('Response verify OK');
        expect(out).toMatch(/sign\.pem: good/);
      }
    });

    it("answers unauthorized for another CA's certificate and malformedRequest for garbage", async () => {
      const foreign = await ocspRequest(otherCard.auth, other.auth.certificate);
      const r1 = await app.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from(foreign) });
      expect(parseResponse(new Uint8Array(r1.rawPayload))).toEqual({ status: 6 });
      const r2 = await app.inject({ method: 'POST', url: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from('not DER') });
      expect(parseResponse(new Uint8Array(r2.rawPayload))).toEqual({ status: 1 });
      const r3 = await app.inject({ method: 'GET', url: '/ocsp/not*base64' });
      expect(parseResponse(new Uint8Array(r3.rawPayload))).toEqual({ status: 1 });
      // openssl says so too, for the foreign certificate.
      expect(await openssl(['ocsp', '-issuer', join(other.dir, 'auth-ca.pem'), '-cert', files.otherAuth, '-url', `${base}/ocsp`])).toMatch(/Responder Error: unauthorized/);
    });
  });

  it('refuses a directory that holds no CA, naming what is missing', () => {
    expect(() => buildCaServer(join(dir.path, 'nowhere'))).toThrow(/does not exist/);
  });
});

describe('jpki-hil ca serve', () => {
  const dir = tempDir();
  let port: number;
  let caDir: string;

  beforeAll(async () => {
    port = await freePort();
    caDir = join(dir.path, 'ca');
    initCa(caDir, { crlBaseUrl: `http://127.0.0.1:${port}/crl/` });
  });
  afterAll(() => dir.remove());

  const registrar: CommandRegistrar = (parser, ctx) => parser.command('ca', 'test CA', (ca) => registerCaServeCommand(ca, ctx));

  it('refuses a port other than the one in the certificates, and says which one to use', async () => {
    const r = await runRegistrar(registrar, ['ca', 'serve', '--dir', caDir, '--port', String(port + 1)]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`serve with --port ${port}`);
  });

  it('checks scheme, path, port and host of the CRL URL', () => {
    expect(checkCrlBaseUrl('http://127.0.0.1:8080/crl/', '127.0.0.1', 8080)).toEqual({});
    expect(checkCrlBaseUrl('http://127.0.0.1/crl/', '127.0.0.1', 80)).toEqual({});
    expect(checkCrlBaseUrl('http://127.0.0.1:8080/crl/', '0.0.0.0', 8080)).toEqual({});
    expect(checkCrlBaseUrl('http://[::1]:8080/crl/', '::1', 8080)).toEqual({});
    expect(checkCrlBaseUrl('https://127.0.0.1:8080/crl/', '127.0.0.1', 8080).problem).toMatch(/plain HTTP/);
    expect(checkCrlBaseUrl('http://127.0.0.1:8080/pki/', '127.0.0.1', 8080).problem).toMatch(/path \/pki\//);
    expect(checkCrlBaseUrl('http://127.0.0.1:8080/crl/', '127.0.0.1', 0).problem).toMatch(/--port 8080/);
    const other = checkCrlBaseUrl('http://ca.example.test:8080/crl/', '127.0.0.1', 8080);
    expect(other.problem).toBeUndefined();
    expect(other.warning).toMatch(/ca\.example\.test/);
  });

  it("serves at the certificates' address, prints the URLs, warns about another host name and stops when told", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: CommandContext = { io: { out: (t) => out.push(t), err: (t) => err.push(t) }, exitCode: 0 };
    const stop = new AbortController();
    const serving = serveCa(ctx, { dir: caDir, port, host: '127.0.0.1' }, stop.signal);
    await expect.poll(() => out.join('\n'), { timeout: 5000 }).toContain('OCSP:');
    expect(out.join('\n')).toContain(`http://127.0.0.1:${port}/crl/auth.crl`);
    const crl = await fetch(`http://127.0.0.1:${port}/crl/auth.crl`);
    expect(crl.status).toBe(200);
    expect(err.join('\n')).not.toContain('warning');
    stop.abort();
    await serving;
    await expect(fetch(`http://127.0.0.1:${port}/crl/auth.crl`)).rejects.toThrow();

    // Same port, but the certificates say "localhost": served, with a warning.
    const named = join(dir.path, 'named-ca');
    const { auth, sign } = loadCa(caDir);
    initCa(named, { crlBaseUrl: `http://localhost:${port}/crl/`, keys: { auth: auth.key, sign: sign.key } });
    const again = new AbortController();
    const servingNamed = serveCa(ctx, { dir: named, port, host: '127.0.0.1' }, again.signal);
    await expect.poll(() => err.join('\n'), { timeout: 5000 }).toContain('warning: the certificates name the CRL host localhost');
    again.abort();
    await servingNamed;
  });
});
