/**
 * The verification service held to RFC 5280 / RFC 6960 with material it must refuse, made with the
 * test CA's keys — by openssl (an independent tool: SHA-1 and odd certificates, CRLs with a future
 * thisUpdate or a lower CRL number) or with our DER encoder and pkijs where openssl cannot (a critical
 * CRL entry extension, an OCSP answer without nonce or nextUpdate) — and served from a loopback
 * "CA" to the verification API listening on loopback. Every refusal carries its registry reason.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import Fastify, { type FastifyInstance } from 'fastify';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, issueCard, loadCa, type TestCa } from '../../../emulator/index.js';
import { answerOcspRequest } from '../../../emulator/issuance/ca-server.js';
import { derBitString, derBoolean, derExplicit, derInteger, derNull, derOctetString, derOid, derSequence, derTime } from '../../../emulator/issuance/der.js';
import { encodeName, fromPem, parseCertificate } from '../../../emulator/issuance/x509.js';
import { verifyRoutes } from '../../../harness/portal/mynaportal/routes/verify.js';
import { createVerifier, loadTrustAnchors, pemCertificates, type RevocationOptions, type TrustAnchors } from '../../../harness/portal/verification/index.js';
import { definition, tempDir } from '../../support/cards.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const kDay = 86_400_000;

/** One loopback server standing in for the CA's CRL and OCSP addresses, answering what a test sets. */
class CraftedCa {
  crl: Uint8Array = new Uint8Array();
  ocsp: (request: Uint8Array) => Uint8Array = () => new Uint8Array();
  url = '';
  private readonly _server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = request.url === '/ocsp' ? this.ocsp(new Uint8Array(Buffer.concat(chunks))) : this.crl;
      response.writeHead(200, { 'content-type': request.url === '/ocsp' ? 'application/ocsp-response' : 'application/pkix-crl' }).end(Buffer.from(body));
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this._server.listen(0, '127.0.0.1', resolve));
    const address = this._server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this._server.close(() => resolve()));
  }
}

/** The verification API on loopback; answers as `fetch` sees them. */
async function verificationServer(anchors: TrustAnchors, revocation: RevocationOptions, now?: () => Date): Promise<{ url: string; close(): Promise<void> }> {
  const app: FastifyInstance = Fastify();
  await app.register(verifyRoutes, { verifier: createVerifier({ trustAnchors: anchors, revocation, ...(now ? { now } : {}) }), withDetail: true });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => app.close() };
}

interface Answer {
  status: number;
  body: { code: string; reason?: string; detail?: string; revocation?: { reason: string } };
}

async function verify(server: { url: string }, certificate: Uint8Array): Promise<Answer> {
  const response = await fetch(`${server.url}/api/verify/certificate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificate: b64(certificate) }) });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

function openssl(cwd: string, ...args: string[]): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** YYYYMMDDHHMMSSZ, as `openssl ca -crl_lastupdate` takes it. */
function opensslTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

describe('the verification service refuses what RFC 5280 and RFC 6960 say to refuse', () => {
  const dir = tempDir('jpki-hil-verify-standards-');
  let ca: TestCa;
  let anchors: TrustAnchors;
  let auth: Uint8Array;
  let authSerial: string;
  const crafted = new CraftedCa();

  beforeAll(async () => {
    ca = initCa(join(dir.path, 'ca'));
    const { image } = await issueCard(ca, definition('adult'));
    auth = Buffer.from(image.applets.jpki.files['000A'] ?? '', 'base64');
    const hex = parseCertificate(auth).serial.toString(16).toUpperCase();
    authSerial = hex.length % 2 === 0 ? hex : `0${hex}`;
    anchors = loadTrustAnchors(ca.dir);
    await crafted.start();
  });
  afterAll(async () => {
    await crafted.close();
    dir.remove();
  });

  describe('OCSP answers without a nonce echo must show they are current', () => {
    /** The CA's genuine answer, then changed as `edit` says and signed again with the CA key. */
    function ocspAnswer(edit: (data: pkijs.ResponseData) => void): (request: Uint8Array) => Uint8Array {
      return (request) => {
        const genuine = pkijs.OCSPResponse.fromBER(answerOcspRequest(loadCa(ca.dir), request, new Date(), 3_600_000).der);
        const basic = pkijs.BasicOCSPResponse.fromBER(genuine.responseBytes!.response.valueBlock.valueHexView);
        const data = basic.tbsResponseData;
        edit(data);
        const tbs = new Uint8Array(data.toSchema(true).toBER(false));
        data.tbsView = tbs;
        basic.signature = new asn1js.BitString({ valueHex: Uint8Array.from(sign('sha256', tbs, ca.auth.key)).buffer });
        genuine.responseBytes!.response = new asn1js.OctetString({ valueHex: basic.toSchema().toBER(false) });
        return new Uint8Array(genuine.toSchema().toBER(false));
      };
    }
    const dropNonce = (data: pkijs.ResponseData): void => {
      delete data.responseExtensions;
    };

    let server: { url: string; close(): Promise<void> };
    beforeAll(async () => {
      server = await verificationServer(anchors, { mode: 'ocsp', ocspUrl: `${crafted.url}/ocsp` });
    });
    afterAll(async () => server.close());

    it('OK: the genuine answer (nonce echoed), and a pre-produced one with nextUpdate, just made', async () => {
      crafted.ocsp = ocspAnswer(() => undefined);
      expect((await verify(server, auth)).body.code).toBe('OK');
      crafted.ocsp = ocspAnswer(dropNonce);
      expect((await verify(server, auth)).body.code).toBe('OK');
      // The nonce echoed stands in for nextUpdate.
      crafted.ocsp = ocspAnswer((data) => {
        for (const single of data.responses) delete single.nextUpdate;
      });
      expect((await verify(server, auth)).body.code).toBe('OK');
    });

    it('OCSP_RESPONSE_NOT_FRESH: neither a nonce echo nor a nextUpdate', async () => {
      crafted.ocsp = ocspAnswer((data) => {
        dropNonce(data);
        for (const single of data.responses) delete single.nextUpdate;
      });
      const r = await verify(server, auth);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', reason: 'OCSP_RESPONSE_NOT_FRESH' });
      expect(r.body.detail).toMatch(/echoes no nonce and has no nextUpdate/);
    });

    it('OCSP_RESPONSE_NOT_FRESH: no nonce echo and a thisUpdate older than the maximum age (1 hour by default)', async () => {
      crafted.ocsp = ocspAnswer((data) => {
        dropNonce(data);
        for (const single of data.responses) {
          single.thisUpdate = new Date(Date.now() - 3 * 3_600_000);
          single.nextUpdate = new Date(Date.now() + 3_600_000);
        }
      });
      const r = await verify(server, auth);
      expect(r.status).toBe(503);
      expect(r.body.reason).toBe('OCSP_RESPONSE_NOT_FRESH');
      // A verifier configured to take answers up to 4 hours old accepts it.
      const lenient = await verificationServer(anchors, { mode: 'ocsp', ocspUrl: `${crafted.url}/ocsp`, ocspMaxAgeMs: 4 * 3_600_000 });
      try {
        expect((await verify(lenient, auth)).body.code).toBe('OK');
      } finally {
        await lenient.close();
      }
    });
  });

  describe('CRLs', () => {
    /** `openssl ca -gencrl` over an index of the test CA's auth CA, signed with its key. */
    function opensslCrl(options: { number: number; revokeSerial?: string; lastUpdate?: Date; nextUpdate: Date }): Uint8Array {
      const work = join(dir.path, `openssl-crl-${randomBytes(4).toString('hex')}`);
      mkdirSync(work, { recursive: true });
      const index = options.revokeSerial === undefined ? '' : `R\t301231235959Z\t${opensslTime(new Date(Date.now() - kDay)).slice(2)},keyCompromise\t${options.revokeSerial}\tunknown\t/C=JP/CN=card\n`;
      writeFileSync(join(work, 'index.txt'), index);
      writeFileSync(join(work, 'crlnumber'), `${options.number.toString(16).toUpperCase().padStart(2, '0')}\n`);
      writeFileSync(join(work, 'ca.cnf'), '[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n');
      openssl(
        work,
        'ca',
        '-gencrl',
        '-batch',
        '-config',
        'ca.cnf',
        '-keyfile',
        join(ca.dir, 'auth-ca.key.pem'),
        '-cert',
        join(ca.dir, 'auth-ca.pem'),
        '-crl_lastupdate',
        opensslTime(options.lastUpdate ?? new Date(Date.now() - 60_000)),
        '-crl_nextupdate',
        opensslTime(options.nextUpdate),
        '-out',
        'crl.pem',
      );
      openssl(work, 'crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der');
      return new Uint8Array(readFileSync(join(work, 'crl.der')));
    }

    it('CRL_NOT_YET_VALID: a CRL whose thisUpdate is a day ahead (openssl ca -crl_lastupdate)', async () => {
      let server = await verificationServer(anchors, { mode: 'crl', staleWindowMs: 0, crlUrls: { auth: `${crafted.url}/crl/auth.crl` } });
      try {
        crafted.crl = opensslCrl({ number: 1, nextUpdate: new Date(Date.now() + 2 * kDay) });
        expect((await verify(server, auth)).body.code).toBe('OK');
        // A verifier that has no CRL yet (one that has keeps using its last good one).
        await server.close();
        server = await verificationServer(anchors, { mode: 'crl', staleWindowMs: 0, crlUrls: { auth: `${crafted.url}/crl/auth.crl` } });
        crafted.crl = opensslCrl({ number: 2, lastUpdate: new Date(Date.now() + kDay), nextUpdate: new Date(Date.now() + 2 * kDay) });
        const r = await verify(server, auth);
        expect(r.status).toBe(503);
        expect(r.body).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', reason: 'CRL_NOT_YET_VALID' });
      } finally {
        await server.close();
      }
    });

    it('CRL_NUMBER_DECREASED: an older CRL replayed to hide a revocation is refused; the newer one still serves', async () => {
      let t = Date.now();
      const server = await verificationServer(anchors, { mode: 'crl', staleWindowMs: 0, crlUrls: { auth: `${crafted.url}/crl/auth.crl` } }, () => new Date(t));
      try {
        crafted.crl = opensslCrl({ number: 0x10, revokeSerial: authSerial, nextUpdate: new Date(t + kDay) });
        const revoked = await verify(server, auth);
        expect(revoked.body.code).toBe('CERTIFICATE_REVOKED');
        expect(revoked.body.revocation?.reason).toBe('keyCompromise');
        // CRL number 5, from before the revocation, signed by the same CA: refused, and the cached #16 answers.
        crafted.crl = opensslCrl({ number: 0x05, nextUpdate: new Date(t + 5 * kDay) });
        expect((await verify(server, auth)).body.code).toBe('CERTIFICATE_REVOKED');
        // Once #16 is past its nextUpdate, nothing is left to answer with: 503, with the reason.
        t += 2 * kDay;
        const r = await verify(server, auth);
        expect(r.status).toBe(503);
        expect(r.body).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', reason: 'CRL_NUMBER_DECREASED' });
        expect(r.body.detail).toMatch(/CRL number 5, lower than 16/);
      } finally {
        await server.close();
      }
    });

    it('CRL_ENTRY_EXTENSION_UNKNOWN: an entry (of another certificate) with an unknown critical extension spoils the whole CRL', async () => {
      const now = new Date();
      const entry = (serial: bigint, extensions: Uint8Array[]): Uint8Array => derSequence(derInteger(serial), derTime(new Date(now.getTime() - kDay)), ...(extensions.length > 0 ? [derSequence(...extensions)] : []));
      const crl = (entries: Uint8Array[]): Uint8Array => {
        const algorithm = derSequence(derOid('1.2.840.113549.1.1.11'), derNull());
        const tbs = derSequence(
          derInteger(1),
          algorithm,
          encodeName(ca.auth.name),
          derTime(new Date(now.getTime() - 60_000)),
          derTime(new Date(now.getTime() + kDay)),
          derSequence(...entries),
          derExplicit(0, derSequence(derSequence(derOid('2.5.29.20'), derOctetString(derInteger(1000n))))),
        );
        return derSequence(tbs, algorithm, derBitString(Uint8Array.from(sign('sha256', tbs, ca.auth.key))));
      };
      let server = await verificationServer(anchors, { mode: 'crl', staleWindowMs: 0, crlUrls: { auth: `${crafted.url}/crl/auth.crl` } });
      try {
        // A non-critical unknown entry extension is fine.
        crafted.crl = crl([entry(0x0a7fffffn, [derSequence(derOid('1.2.3.4.5'), derOctetString(derNull()))])]);
        expect((await verify(server, auth)).body.code).toBe('OK');
        await server.close();
        server = await verificationServer(anchors, { mode: 'crl', staleWindowMs: 0, crlUrls: { auth: `${crafted.url}/crl/auth.crl` } });
        crafted.crl = crl([entry(0x0a7fffffn, [derSequence(derOid('1.2.3.4.5'), derBoolean(true), derOctetString(derNull()))])]);
        const r = await verify(server, auth);
        expect(r.status).toBe(503);
        expect(r.body).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', reason: 'CRL_ENTRY_EXTENSION_UNKNOWN' });
        expect(r.body.detail).toContain('1.2.3.4.5');
      } finally {
        await server.close();
      }
    });
  });

  describe('the certificate itself (openssl x509 -req, signed with the auth CA key)', () => {
    let server: { url: string; close(): Promise<void> };
    let serial = 0x0a7f0000;
    beforeAll(async () => {
      server = await verificationServer(anchors, { mode: 'none' });
    });
    afterAll(async () => server.close());

    function opensslCertificate(options: { digest: 'sha1' | 'sha256'; extensions: string[] }): Uint8Array {
      const work = join(dir.path, `openssl-cert-${randomBytes(4).toString('hex')}`);
      mkdirSync(work, { recursive: true });
      writeFileSync(join(work, 'ext.cnf'), `[e]\n${options.extensions.join('\n')}\n`);
      openssl(work, 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-subj', '/C=JP/CN=OPENSSLMADE', '-out', 'csr.pem');
      serial += 1;
      openssl(work, 'x509', '-req', '-in', 'csr.pem', '-CA', join(ca.dir, 'auth-ca.pem'), '-CAkey', join(ca.dir, 'auth-ca.key.pem'), '-set_serial', `0x${serial.toString(16)}`, '-days', '30', `-${options.digest}`, '-extfile', 'ext.cnf', '-extensions', 'e', '-out', 'cert.pem');
      return fromPem(openssl(work, 'x509', '-in', 'cert.pem'), 'CERTIFICATE');
    }
    const kAuthProfile = ['keyUsage = critical, digitalSignature', 'certificatePolicies = critical, 1.2.392.200149.8.5.1.3.30'];

    it('OK: the JPKI-like authentication profile made by openssl with SHA-256', async () => {
      const r = await verify(server, opensslCertificate({ digest: 'sha256', extensions: kAuthProfile }));
      expect(r.body).toMatchObject({ code: 'OK' });
      expect(r.body.reason).toBeUndefined();
    });

    it('SIGNATURE_ALGORITHM_REFUSED: the same profile signed with SHA-1', async () => {
      const certificate = opensslCertificate({ digest: 'sha1', extensions: kAuthProfile });
      const r = await verify(server, certificate);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ code: 'UNSUPPORTED_CERTIFICATE', reason: 'SIGNATURE_ALGORITHM_REFUSED' });
      expect(r.body.detail).toMatch(/SHA-1/);
    });

    it('CRITICAL_EXTENSION_UNKNOWN: a critical extension the verifier does not process', async () => {
      const r = await verify(server, opensslCertificate({ digest: 'sha256', extensions: [...kAuthProfile, '1.2.3.4.5 = critical, DER:05:00'] }));
      expect(r.body).toMatchObject({ code: 'UNSUPPORTED_CERTIFICATE', reason: 'CRITICAL_EXTENSION_UNKNOWN' });
      expect(r.body.detail).toContain('1.2.3.4.5');
      // Not critical, it is ignored, as RFC 5280 says.
      expect((await verify(server, opensslCertificate({ digest: 'sha256', extensions: [...kAuthProfile, '1.2.3.4.5 = DER:05:00'] }))).body.code).toBe('OK');
    });

    it.each([
      ['the signature policy of the test CA', 'certificatePolicies = critical, 1.2.392.200149.8.5.1.0.20'],
      ['the production signature policy', 'certificatePolicies = 1.2.392.200149.8.5.1.1.20'],
      ['no certificatePolicies at all', ''],
    ])('CERTIFICATE_POLICY_MISMATCH: an authentication certificate with %s', async (_name, policy) => {
      const r = await verify(server, opensslCertificate({ digest: 'sha256', extensions: ['keyUsage = critical, digitalSignature', ...(policy ? [policy] : [])] }));
      expect(r.body).toMatchObject({ code: 'UNSUPPORTED_CERTIFICATE', reason: 'CERTIFICATE_POLICY_MISMATCH' });
      expect(r.body.detail).toContain('1.2.392.200149.8.5.1.3.30');
    });

    it('refuses, at start-up, a trust anchor with an unknown critical extension', () => {
      const work = join(dir.path, 'openssl-anchor');
      mkdirSync(work, { recursive: true });
      const pem = openssl(work, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-subj', '/C=JP/O=Odd CA', '-days', '30', '-addext', 'basicConstraints = critical, CA:TRUE', '-addext', '1.2.3.4.5 = critical, DER:05:00');
      const odd = pemCertificates(pem);
      expect(() => createVerifier({ trustAnchors: { auth: odd, sign: anchors.sign }, revocation: { mode: 'none' } })).toThrow(/trust anchor auth\[0\] has critical extensions .*1\.2\.3\.4\.5/);
    });
  });
});

