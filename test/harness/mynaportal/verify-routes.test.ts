import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCaServer, createMemoryCard, initCa, issueCard, type CardImage, type TestCa } from '../../../emulator/index.js';
import { revokeCertificate } from '../../../emulator/issuance/test-ca.js';
import { concat, fromHex } from '../../../iso7816/bytes.js';
import { JpkiClient, sha256DigestInfo } from '../../../harness/jpki/jpki-client.js';
import { verifyRoutes } from '../../../harness/portal/mynaportal/routes/verify.js';
import { createVerifier, loadTrustAnchors, type RevocationOptions, type TrustAnchors, type VerificationResult } from '../../../harness/portal/verification/index.js';
import { InProcessChannel } from '../../../harness/readers/in-process-channel.js';
import { definition, tempDir } from '../../support/cards.js';

interface CardFixture {
  image: CardImage;
  pins: { auth: string; sign: string };
  auth: Uint8Array;
  sign: Uint8Array | undefined;
  /** As the verifier reports serials: upper-case hex, whole bytes. */
  authSerial: string;
  signSerial: string;
}

async function issue(ca: TestCa, name: string): Promise<CardFixture> {
  const def = definition(name);
  const { image } = await issueCard(ca, def);
  const files = image.applets.jpki.files;
  const auth = Buffer.from(files['000A'] ?? '', 'base64');
  const sign = files['0001'] === undefined ? undefined : Buffer.from(files['0001'], 'base64');
  return {
    image,
    pins: { auth: def.pins.auth, sign: def.pins.sign },
    auth,
    sign,
    authSerial: new X509Certificate(auth).serialNumber,
    signSerial: sign === undefined ? '' : new X509Certificate(sign).serialNumber,
  };
}

/** SHA-384 DigestInfo prefix, for a signature with an algorithm other than the default. */
const kSha384DigestInfoPrefix = fromHex('3041300D060960864801650304020205000430');

/** Has the emulated card sign `data` with its key, as the PC agent does: PIN, certificate, 80 2A. */
async function cardSign(card: CardFixture, key: 'auth' | 'sign', data: Uint8Array, hash: 'sha256' | 'sha384' = 'sha256'): Promise<{ certificate: Uint8Array; signature: Uint8Array }> {
  const client = new JpkiClient(new InProcessChannel(createMemoryCard(card.image)));
  await client.verifyPin(key, card.pins[key]);
  const certificate = await client.readCertificate(key);
  const digestInfo = hash === 'sha256' ? sha256DigestInfo(data) : concat(kSha384DigestInfoPrefix, createHash('sha384').update(data).digest());
  return { certificate, signature: await client.signDigestInfo(key, digestInfo) };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A fetch that hands each request to a fastify app through inject(), recording the URLs asked for. */
function injectFetch(app: FastifyInstance, seen: string[] = [], options: { fail?: () => boolean } = {}): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    seen.push(url.href);
    if (options.fail?.()) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    const r = await app.inject({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: url.pathname + url.search,
      headers: (init?.headers ?? {}) as Record<string, string>,
      ...(init?.body === undefined || init.body === null ? {} : { payload: Buffer.from(init.body as Uint8Array) }),
    });
    return new Response(r.statusCode === 204 ? null : new Uint8Array(r.rawPayload), { status: r.statusCode, headers: { 'content-type': String(r.headers['content-type'] ?? '') } });
  }) as typeof fetch;
}

interface Answer {
  status: number;
  body: VerificationResult & { message?: string; detail?: string };
}

async function portal(trustAnchors: TrustAnchors, revocation: RevocationOptions, extra: { now?: () => Date; withDetail?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(verifyRoutes, { verifier: createVerifier({ trustAnchors, revocation, ...(extra.now ? { now: extra.now } : {}) }), withDetail: extra.withDetail ?? false });
  return app;
}

async function post(app: FastifyInstance, path: 'certificate' | 'signature', payload: Record<string, unknown>): Promise<Answer> {
  const r = await app.inject({ method: 'POST', url: `/api/verify/${path}`, payload });
  return { status: r.statusCode, body: r.json() };
}

describe('POST /api/verify/*: every verdict with material from the emulated card and the test CA', () => {
  const dir = tempDir();
  let ca: TestCa;
  let caApp: FastifyInstance;
  let otherApp: FastifyInstance;
  let anchors: TrustAnchors;
  let adult: CardFixture;
  let expired: CardFixture;
  let moved: CardFixture;
  /** Revoked by the tests themselves (cache and OCSP immediacy), so that no other test depends on it. */
  let mutable: CardFixture;
  let stranger: CardFixture;

  beforeAll(async () => {
    // Default CRL base URL http://127.0.0.1:8080/crl/: reached through inject(), as the certificates say.
    ca = initCa(join(dir.path, 'ca'));
    const other = initCa(join(dir.path, 'other-ca'));
    [adult, expired, moved, mutable, stranger] = await Promise.all([
      issue(ca, 'adult'),
      issue(ca, 'expired-certificates'),
      issue(ca, 'revoked-after-move'),
      issue(ca, 'adult'),
      issue(other, 'adult'),
    ]);
    caApp = buildCaServer(ca.dir);
    otherApp = buildCaServer(other.dir);
    // What a relying party is given: the two CA certificates, nothing else.
    anchors = loadTrustAnchors(ca.dir);
  });
  afterAll(async () => {
    await Promise.all([caApp.close(), otherApp.close()]);
    dir.remove();
  });

  describe('with CRLs from the distribution points in the certificates', () => {
    const seen: string[] = [];
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await portal(anchors, { mode: 'crl', fetch: injectFetch(caApp, seen) });
    });

    it('OK: the card signs a login nonce with its authentication key', async () => {
      const nonce = randomBytes(32);
      const { certificate, signature } = await cardSign(adult, 'auth', nonce);
      const r = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(nonce), kind: 'auth' });
      expect(r.status).toBe(200);
      expect(r.body.code).toBe('OK');
      expect(r.body.certificate).toMatchObject({ kind: 'auth', serial: adult.authSerial, issuer: expect.stringContaining('OU=JPKI TEST for user authentication') });
      expect(r.body.certificate?.subject).toMatch(/^C=JP, CN=[A-Z0-9]{20}$/);
      expect(Date.parse(r.body.certificate!.notAfter)).toBe(new Date(new X509Certificate(certificate).validTo).getTime());
      expect(r.body.revocation).toBeUndefined();
      // The CRL came from where the certificate says it is published.
      expect(seen).toContain('http://127.0.0.1:8080/crl/auth.crl');
    });

    it('OK: a signature-key signature with SHA-384, which fails when claimed as SHA-256', async () => {
      const data = Buffer.from('申請書の内容');
      const { certificate, signature } = await cardSign(adult, 'sign', data, 'sha384');
      const body = { certificate: b64(certificate), signature: b64(signature), data: b64(data), kind: 'sign' };
      const ok = await post(app, 'signature', { ...body, algorithm: 'sha384' });
      expect(ok.body.code).toBe('OK');
      expect(ok.body.certificate?.kind).toBe('sign');
      expect((await post(app, 'signature', body)).body.code).toBe('SIGNATURE_MISMATCH');
    });

    it('OK for the certificate alone, its kind found from the CA that issued it', async () => {
      const r = await post(app, 'certificate', { certificate: b64(adult.auth) });
      expect(r.body.code).toBe('OK');
      expect(r.body.certificate?.kind).toBe('auth');
    });

    it('SIGNATURE_MISMATCH: altered data, and a signature made with another key', async () => {
      const nonce = randomBytes(32);
      const { certificate, signature } = await cardSign(adult, 'auth', nonce);
      const altered = Buffer.from(nonce);
      altered[0] = (altered[0] ?? 0) ^ 0x01;
      const r1 = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(altered), kind: 'auth' });
      expect(r1.status).toBe(200);
      expect(r1.body.code).toBe('SIGNATURE_MISMATCH');
      expect(r1.body.certificate?.serial).toBe(adult.authSerial);

      const forged = await cardSign(stranger, 'auth', nonce);
      const r2 = await post(app, 'signature', { certificate: b64(certificate), signature: b64(forged.signature), data: b64(nonce), kind: 'auth' });
      expect(r2.body.code).toBe('SIGNATURE_MISMATCH');
    });

    it('UNSUPPORTED_CERTIFICATE: a certificate from another CA with the very same names', async () => {
      const nonce = randomBytes(32);
      const { certificate, signature } = await cardSign(stranger, 'auth', nonce);
      const r = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(nonce), kind: 'auth' });
      expect(r.status).toBe(200);
      expect(r.body.code).toBe('UNSUPPORTED_CERTIFICATE');
      // Not identified: the chain check did not accept it.
      expect(r.body.certificate).toBeUndefined();
    });

    it('UNSUPPORTED_CERTIFICATE: an authentication certificate presented as a signature certificate', async () => {
      const r = await post(app, 'certificate', { certificate: b64(adult.auth), kind: 'sign' });
      expect(r.body.code).toBe('UNSUPPORTED_CERTIFICATE');
      expect(r.body.detail).toMatch(/issued by the authentication CA, but a signature certificate is required/);
      expect((await post(app, 'certificate', { certificate: b64(adult.sign!), kind: 'auth' })).body.code).toBe('UNSUPPORTED_CERTIFICATE');
    });

    it('CERTIFICATE_EXPIRED: certificates issued in 2018 that ran out at the 5th birthday', async () => {
      const nonce = randomBytes(32);
      const { certificate, signature } = await cardSign(expired, 'auth', nonce);
      const r = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(nonce), kind: 'auth' });
      expect(r.body.code).toBe('CERTIFICATE_EXPIRED');
      expect(r.body.certificate?.notAfter).toBe(new Date(new X509Certificate(certificate).validTo).toISOString());
      expect(r.body.detail).toContain('expired at');
      expect((await post(app, 'certificate', { certificate: b64(expired.sign!), kind: 'sign' })).body.code).toBe('CERTIFICATE_EXPIRED');
    });

    it('CERTIFICATE_REVOKED by CRL: the signature certificate after a move (affiliationChanged); the auth certificate survives', async () => {
      const data = Buffer.from('転入届');
      const { certificate, signature } = await cardSign(moved, 'sign', data);
      const r = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(data), kind: 'sign' });
      expect(r.status).toBe(200);
      expect(r.body.code).toBe('CERTIFICATE_REVOKED');
      expect(r.body.revocation).toEqual({ reason: 'affiliationChanged', date: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), source: 'crl' });
      expect(r.body.certificate?.serial).toBe(moved.signSerial);
      expect(seen).toContain('http://127.0.0.1:8080/crl/sign.crl');
      expect((await post(app, 'certificate', { certificate: b64(moved.auth), kind: 'auth' })).body.code).toBe('OK');
    });

    it('checks in order: UNSUPPORTED before EXPIRED, EXPIRED before REVOKED, SIGNATURE_MISMATCH before REVOKED', async () => {
      // An expired certificate presented as the wrong kind is unsupported first.
      expect((await post(app, 'certificate', { certificate: b64(expired.auth), kind: 'sign' })).body.code).toBe('UNSUPPORTED_CERTIFICATE');

      // Expired and revoked: expired wins...
      revokeCertificate(ca, expired.authSerial, 'keyCompromise');
      const fresh = await portal(anchors, { mode: 'crl', staleWindowMs: 0, fetch: injectFetch(caApp) });
      expect((await post(fresh, 'certificate', { certificate: b64(expired.auth) })).body.code).toBe('CERTIFICATE_EXPIRED');
      // ...though the certificate is indeed on the CRL, as a check within its validity shows.
      const verifier = createVerifier({ trustAnchors: anchors, revocation: { mode: 'crl', staleWindowMs: 0, fetch: injectFetch(caApp) } });
      const inValidity = await verifier.verifyCertificate(expired.auth, { at: new Date(new X509Certificate(expired.auth).validFrom) });
      expect(inValidity.code).toBe('CERTIFICATE_REVOKED');
      expect(inValidity.revocation?.reason).toBe('keyCompromise');

      // A forged signature on a revoked certificate is a signature mismatch.
      const data = Buffer.from('original');
      const { certificate, signature } = await cardSign(moved, 'sign', data);
      const r = await post(app, 'signature', { certificate: b64(certificate), signature: b64(signature), data: b64(Buffer.from('tampered')), kind: 'sign' });
      expect(r.body.code).toBe('SIGNATURE_MISMATCH');
    });
  });

  describe('with OCSP', () => {
    it('CERTIFICATE_REVOKED with the reason, OK for a good certificate, and a revocation seen at once', async () => {
      const seen: string[] = [];
      const app = await portal(anchors, { mode: 'ocsp', ocspUrl: 'http://127.0.0.1:8080/ocsp', fetch: injectFetch(caApp, seen) });
      const revoked = await post(app, 'certificate', { certificate: b64(moved.sign!), kind: 'sign' });
      expect(revoked.body.code).toBe('CERTIFICATE_REVOKED');
      expect(revoked.body.revocation).toMatchObject({ reason: 'affiliationChanged', source: 'ocsp' });
      expect(seen).toEqual(['http://127.0.0.1:8080/ocsp']);

      expect((await post(app, 'certificate', { certificate: b64(mutable.auth) })).body.code).toBe('OK');
      revokeCertificate(ca, mutable.authSerial, 'keyCompromise');
      const now = await post(app, 'certificate', { certificate: b64(mutable.auth) });
      expect(now.body.code).toBe('CERTIFICATE_REVOKED');
      expect(now.body.revocation?.reason).toBe('keyCompromise');
    });

    it('over real HTTP to a listening CA server', async () => {
      const server = buildCaServer(ca.dir);
      const base = await server.listen({ host: '127.0.0.1', port: 0 });
      try {
        const app = await portal(anchors, { mode: 'ocsp', ocspUrl: `${base}/ocsp` });
        expect((await post(app, 'certificate', { certificate: b64(adult.sign!) })).body.code).toBe('OK');
        const r = await post(app, 'certificate', { certificate: b64(moved.sign!) });
        expect(r.body.revocation).toMatchObject({ reason: 'affiliationChanged', source: 'ocsp' });
      } finally {
        await server.close();
      }
    });

    it('503 when the answer is not signed by the CA, or the responder serves another CA', async () => {
      // Flip one bit of the response signature on its way back.
      const genuine = injectFetch(caApp);
      const tampering = (async (input: string | URL | Request, init?: RequestInit) => {
        const response = await genuine(input, init);
        const ocsp = pkijs.OCSPResponse.fromBER(new Uint8Array(await response.arrayBuffer()));
        const basic = pkijs.BasicOCSPResponse.fromBER(ocsp.responseBytes!.response.valueBlock.valueHexView);
        const signature = new Uint8Array(basic.signature.valueBlock.valueHexView);
        signature[10] = (signature[10] ?? 0) ^ 0x01;
        basic.signature = new asn1js.BitString({ valueHex: signature });
        ocsp.responseBytes!.response = new asn1js.OctetString({ valueHex: basic.toSchema().toBER(false) });
        return new Response(new Uint8Array(ocsp.toSchema().toBER(false)), { status: 200 });
      }) as typeof fetch;
      const tampered = await portal(anchors, { mode: 'ocsp', ocspUrl: 'http://127.0.0.1:8080/ocsp', fetch: tampering }, { withDetail: true });
      const r1 = await post(tampered, 'certificate', { certificate: b64(adult.auth) });
      expect(r1.status).toBe(503);
      expect(r1.body.code).toBe('REVOCATION_UNAVAILABLE');
      expect(r1.body.detail).toMatch(/does not verify with the key of the authentication CA/);

      const wrongResponder = await portal(anchors, { mode: 'ocsp', ocspUrl: 'http://127.0.0.1:8080/ocsp', fetch: injectFetch(otherApp) }, { withDetail: true });
      const r2 = await post(wrongResponder, 'certificate', { certificate: b64(adult.auth) });
      expect(r2.status).toBe(503);
      expect(r2.body.detail).toMatch(/unauthorized/);
    });
  });

  describe('the CRL cache', () => {
    it('a revocation made after the CRL was fetched is unseen within the stale window and seen once it has passed', async () => {
      let t = Date.now();
      const seen: string[] = [];
      const app = await portal(anchors, { mode: 'crl', fetch: injectFetch(caApp, seen) }, { now: () => new Date(t) });
      const ask = async (): Promise<Answer> => post(app, 'certificate', { certificate: b64(mutable.sign!), kind: 'sign' });

      expect((await ask()).body.code).toBe('OK');
      expect(seen).toHaveLength(1);
      revokeCertificate(ca, mutable.signSerial, 'affiliationChanged');

      t += 59_000;
      expect((await ask()).body.code).toBe('OK');
      expect(seen).toHaveLength(1);

      t += 2_000;
      const after = await ask();
      expect(after.body.code).toBe('CERTIFICATE_REVOKED');
      expect(after.body.revocation).toMatchObject({ reason: 'affiliationChanged', source: 'crl' });
      expect(seen).toHaveLength(2);
    });

    it('staleWindowMs 0 fetches for every verification; concurrent verifications share one fetch', async () => {
      const seen: string[] = [];
      const every = await portal(anchors, { mode: 'crl', staleWindowMs: 0, fetch: injectFetch(caApp, seen) });
      await post(every, 'certificate', { certificate: b64(adult.auth) });
      await post(every, 'certificate', { certificate: b64(adult.auth) });
      expect(seen).toHaveLength(2);

      const shared: string[] = [];
      const verifier = createVerifier({ trustAnchors: anchors, revocation: { mode: 'crl', fetch: injectFetch(caApp, shared) } });
      const results = await Promise.all([1, 2, 3].map(() => verifier.verifyCertificate(adult.auth)));
      expect(results.map((r) => r.code)).toEqual(['OK', 'OK', 'OK']);
      expect(shared).toHaveLength(1);
    });

    it('a failed refresh falls back to the cached CRL while it is current, and to nothing once it is past nextUpdate', async () => {
      let t = Date.now();
      let down = false;
      const seen: string[] = [];
      const app = await portal(anchors, { mode: 'crl', fetch: injectFetch(caApp, seen, { fail: () => down }) }, { now: () => new Date(t), withDetail: true });
      expect((await post(app, 'certificate', { certificate: b64(adult.auth) })).body.code).toBe('OK');
      down = true;
      t += 120_000;
      expect((await post(app, 'certificate', { certificate: b64(adult.auth) })).body.code).toBe('OK');
      expect(seen).toHaveLength(2); // it did try

      t += 2 * 86_400_000; // the CA's CRLs are good for one day
      const r = await post(app, 'certificate', { certificate: b64(adult.auth) });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('REVOCATION_UNAVAILABLE');
    });
  });

  describe('503 when revocation cannot be checked', () => {
    it('the CRL server is unreachable (nothing listens there)', async () => {
      const server = buildCaServer(ca.dir);
      const base = await server.listen({ host: '127.0.0.1', port: 0 });
      await server.close();
      const app = await portal(anchors, { mode: 'crl', crlUrls: { auth: `${base}/crl/auth.crl` } }, { withDetail: true });
      const r = await post(app, 'certificate', { certificate: b64(adult.auth) });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', message: expect.stringContaining('失効情報') });
      expect(r.body.detail).toContain(`cannot fetch the CRL of the authentication CA from ${base}/crl/auth.crl: ECONNREFUSED`);
      expect(r.body.revocation).toBeUndefined();
      // Without test-mode detail the answer says no more than the code and the message.
      const quiet = await portal(anchors, { mode: 'crl', crlUrls: { auth: `${base}/crl/auth.crl` } });
      expect(Object.keys((await post(quiet, 'certificate', { certificate: b64(adult.auth) })).body).sort()).toEqual(['code', 'message']);
    });

    it('the URL answers 404, or serves a CRL that the CA did not sign', async () => {
      const missing = await portal(anchors, { mode: 'crl', crlUrls: { auth: 'http://127.0.0.1:8080/crl/none.crl' }, fetch: injectFetch(caApp) }, { withDetail: true });
      const r1 = await post(missing, 'certificate', { certificate: b64(adult.auth) });
      expect(r1.status).toBe(503);
      expect(r1.body.detail).toContain('HTTP 404');

      // The other test CA has the same names, so only the signature check can tell its CRL apart.
      const foreign = await portal(anchors, { mode: 'crl', fetch: injectFetch(otherApp) }, { withDetail: true });
      const r2 = await post(foreign, 'certificate', { certificate: b64(adult.auth) });
      expect(r2.status).toBe(503);
      expect(r2.body.detail).toMatch(/does not verify with the key of the authentication CA/);
    });

    it('over real HTTP, configured CRL URLs are used instead of the distribution point', async () => {
      const server = buildCaServer(ca.dir);
      const base = await server.listen({ host: '127.0.0.1', port: 0 });
      try {
        const app = await portal(anchors, { mode: 'crl', crlUrls: { sign: `${base}/crl/sign.crl` } });
        const r = await post(app, 'certificate', { certificate: b64(moved.sign!), kind: 'sign' });
        expect(r.body.code).toBe('CERTIFICATE_REVOKED');
        expect(r.body.revocation?.reason).toBe('affiliationChanged');
      } finally {
        await server.close();
      }
    });
  });

  describe('400 for input that cannot be verified', () => {
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await portal(anchors, { mode: 'none' }, { withDetail: true });
    });

    const cases: Array<[string, 'certificate' | 'signature', () => Record<string, unknown>, RegExp]> = [
      ['bad base64', 'certificate', () => ({ certificate: 'not base64!' }), /certificate is not standard padded base64/],
      ['unpadded base64', 'certificate', () => ({ certificate: b64(adult.auth).replace(/=+$/, '').slice(0, -1) }), /not standard padded base64/],
      ['not a certificate', 'certificate', () => ({ certificate: b64(Buffer.from('hello, world')) }), /not DER|not an X\.509 certificate/],
      ['a certificate with trailing bytes', 'certificate', () => ({ certificate: b64(concat(adult.auth, [0, 0])) }), /2 extra bytes/],
      ['a missing field', 'signature', () => ({ certificate: b64(adult.auth), data: '' }), /signature/],
      ['an unknown kind', 'certificate', () => ({ certificate: b64(adult.auth), kind: 'card' }), /kind/],
      ['an unknown hash', 'signature', () => ({ certificate: b64(adult.auth), signature: 'AAAA', data: '', algorithm: 'md5' }), /algorithm/],
      ['an empty signature', 'signature', () => ({ certificate: b64(adult.auth), signature: '', data: '' }), /signature is empty/],
    ];
    for (const [what, path, body, detail] of cases) {
      it(what, async () => {
        const r = await post(app, path, body());
        expect(r.status).toBe(400);
        expect(r.body.code).toBe('BAD_REQUEST');
        expect(r.body.message).toBeTypeOf('string');
        expect(r.body.detail).toMatch(detail);
      });
    }

    it('a body that is not JSON', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/verify/certificate', headers: { 'content-type': 'application/json' }, payload: '{' });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('revocation mode none still checks chain, validity and signature', async () => {
      expect((await post(app, 'certificate', { certificate: b64(moved.sign!) })).body.code).toBe('OK');
      expect((await post(app, 'certificate', { certificate: b64(expired.auth) })).body.code).toBe('CERTIFICATE_EXPIRED');
      expect((await post(app, 'certificate', { certificate: b64(stranger.auth) })).body.code).toBe('UNSUPPORTED_CERTIFICATE');
    });
  });
});
