/**
 * The issuer's online services for relying parties: the CRLs at the URL written into every card
 * certificate (`<crlBaseUrl>auth.crl`, `sign.crl`), an OCSP responder (RFC 6960), and the
 * certificate-to-person register (`GET /holders?issuer=…&serial=…`, certificate-holders.ts). This is what
 * J-LIS offers certified verifiers, reduced to the test CA, so that a portal can check revocation
 * over HTTP as a real relying party does, without reading ca.json.
 *
 * `buildCaServer` never listens (`jpki-hil ca serve` does). Every request reads the CA directory
 * again, so a `ca revoke` made by another process shows up in the very next answer.
 */
import { createHash, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import * as pkijs from 'pkijs';
import { equalBytes, toHex } from '../../iso7816/bytes.js';
import { findHolder, holderRegister } from './certificate-holders.js';
import { decodeBitString, parseDer } from './der.js';
import { loadCa, kCaFiles, type CaAuthority, type CertKind, type IssuedRecord, type TestCa } from './test-ca.js';
import { formatName, kCrlReasons, parseCertificate, serialHex } from './x509.js';

export interface CaServerOptions {
  /** The responder's clock (thisUpdate, producedAt); tests move it. */
  readonly now?: () => Date;
  /** nextUpdate − thisUpdate of OCSP answers. Default one hour. */
  readonly ocspValidityMs?: number;
  /** One line per answered request (what was asked, what was answered), for a lab log. */
  readonly log?: (line: string) => void;
}

const kOid = {
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** The CertID hash algorithms we answer for: SHA-1 (what openssl and most clients send) and SHA-2. */
const kCertIdHashes: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
const kOcspStatus = { successful: 0, malformedRequest: 1, internalError: 2, unauthorized: 6 } as const;

const kHour = 3_600_000;
/** An OCSP request is a few hundred bytes; anything far larger is not one. */
const kMaxOcspRequest = 64 * 1024;

type CertStatus = { status: 'good' } | { status: 'unknown' } | { status: 'revoked'; date: Date; reason: keyof typeof kCrlReasons };

function truncateToSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function hash(algorithm: string, data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash(algorithm).update(data).digest());
}

/** The subjectPublicKey BIT STRING content of a certificate: what issuerKeyHash and byKey hash. */
function publicKeyBits(authority: CaAuthority): Uint8Array {
  const spki = parseDer(parseCertificate(authority.certificate).spki);
  const bits = spki.children[1];
  if (bits === undefined) throw new TypeError('the CA certificate has no subjectPublicKey');
  return decodeBitString(bits).bytes;
}

/** Does `certId` name `authority` as the issuer (RFC 6960 §4.1.1: hashes of its name and key)? */
function isIssuedBy(certId: pkijs.CertID, authority: CaAuthority): boolean {
  const algorithm = kCertIdHashes[certId.hashAlgorithm.algorithmId];
  if (algorithm === undefined) return false;
  const nameHash = hash(algorithm, parseCertificate(authority.certificate).subjectDer);
  const keyHash = hash(algorithm, publicKeyBits(authority));
  return equalBytes(certId.issuerNameHash.valueBlock.valueHexView, nameHash) && equalBytes(certId.issuerKeyHash.valueBlock.valueHexView, keyHash);
}

/** The ledger's serial form (upper-case, even length), or undefined for a negative serial. */
function requestedSerial(certId: pkijs.CertID): string | undefined {
  const bytes = certId.serialNumber.valueBlock.valueHexView;
  if (bytes.length === 0 || ((bytes[0] ?? 0) & 0x80) !== 0) return undefined;
  return serialHex(BigInt('0x' + toHex(bytes)));
}

function statusOf(record: IssuedRecord | undefined): CertStatus {
  if (record === undefined) return { status: 'unknown' };
  if (record.revoked === undefined) return { status: 'good' };
  return { status: 'revoked', date: new Date(record.revoked.date), reason: record.revoked.reason };
}

/** CertStatus ::= CHOICE { good [0] NULL, revoked [1] RevokedInfo, unknown [2] NULL }, implicitly tagged. */
function encodeCertStatus(status: CertStatus): asn1js.BaseBlock {
  switch (status.status) {
    case 'good':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
    case 'unknown':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
    case 'revoked':
      return new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 1 },
        value: [
          new asn1js.GeneralizedTime({ valueDate: truncateToSeconds(status.date) }),
          new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Enumerated({ value: kCrlReasons[status.reason] })] }),
        ],
      });
  }
}

function bareResponse(status: number): Uint8Array {
  return new Uint8Array(new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value: status }) }).toSchema().toBER(false));
}

function describeStatus(status: CertStatus): string {
  return status.status === 'revoked' ? `revoked (${status.reason}, ${status.date.toISOString()})` : status.status;
}

interface OcspAnswer {
  der: Uint8Array;
  summary: string;
}

/**
 * Answers one DER OCSPRequest. The response is signed by the CA that issued the certificates
 * asked about (no delegated responder certificate), which is what both openssl and the portal
 * accept without extra configuration; that CA's certificate rides along in `certs`.
 */
export function answerOcspRequest(ca: TestCa, requestDer: Uint8Array, now: Date, validityMs: number): OcspAnswer {
  let request: pkijs.OCSPRequest;
  try {
    request = pkijs.OCSPRequest.fromBER(requestDer);
    if (request.tbsRequest.requestList.length === 0) throw new TypeError('the request names no certificate');
  } catch (error) {
    return { der: bareResponse(kOcspStatus.malformedRequest), summary: `malformed request (${(error as Error).message})` };
  }
  const certIds = request.tbsRequest.requestList.map((r) => r.reqCert);
  // One signer per response: the CA of the first certificate this responder serves.
  const authority = [ca.auth, ca.sign].find((a) => certIds.some((id) => isIssuedBy(id, a)));
  if (authority === undefined) return { der: bareResponse(kOcspStatus.unauthorized), summary: 'unauthorized (no certificate of this CA asked about)' };

  const thisUpdate = truncateToSeconds(now);
  const nextUpdate = new Date(thisUpdate.getTime() + validityMs);
  const summaries: string[] = [];
  const responses = certIds.map((certId) => {
    const serial = requestedSerial(certId);
    // A certificate of another issuer in the same request gets "unknown": this CA cannot vouch for it.
    const record = serial !== undefined && isIssuedBy(certId, authority) ? ca.state.issued.find((r) => r.serial === serial && r.kind === authority.kind) : undefined;
    const status = statusOf(record);
    summaries.push(`${authority.kind} ${serial ?? '(negative serial)'} ${describeStatus(status)}`);
    return new pkijs.SingleResponse({ certID: certId, certStatus: encodeCertStatus(status), thisUpdate, nextUpdate });
  });

  // The nonce is echoed byte for byte so that the client can tell this answer is fresh (RFC 8954).
  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === kOid.ocspNonce);
  const responseData = new pkijs.ResponseData({
    responderID: new asn1js.OctetString({ valueHex: hash('sha1', publicKeyBits(authority)) }),
    producedAt: thisUpdate,
    responses,
    ...(nonce === undefined
      ? {}
      : { responseExtensions: [new pkijs.Extension({ extnID: kOid.ocspNonce, critical: false, extnValue: nonce.extnValue.valueBlock.valueHexView.slice().buffer })] }),
  });
  const tbs = new Uint8Array(responseData.toSchema(true).toBER(false));
  responseData.tbsView = tbs;
  // Signed with node:crypto: the CA key is a KeyObject, and WebCrypto would only re-import it.
  const signature = sign('sha256', tbs, authority.key);
  const basic = new pkijs.BasicOCSPResponse({
    tbsResponseData: responseData,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: kOid.sha256WithRsa, algorithmParams: new asn1js.Null() }),
    signature: new asn1js.BitString({ valueHex: Uint8Array.from(signature).buffer }),
    certs: [pkijs.Certificate.fromBER(authority.certificate)],
  });
  const response = new pkijs.OCSPResponse({
    responseStatus: new asn1js.Enumerated({ value: kOcspStatus.successful }),
    responseBytes: new pkijs.ResponseBytes({
      responseType: kOid.ocspBasic,
      response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER(false) }),
    }),
  });
  return { der: new Uint8Array(response.toSchema().toBER(false)), summary: summaries.join('; ') };
}

/**
 * RFC 6960 Appendix A.1 puts the base64 of the request in the path, URL-encoded; clients also
 * use the URL-safe alphabet. Both are accepted, with or without padding.
 */
export function decodeOcspPathRequest(segment: string): Uint8Array | undefined {
  let text = segment;
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  const compact = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+$/.test(compact) || compact.length % 4 === 1) return undefined;
  return Uint8Array.from(Buffer.from(compact, 'base64'));
}

const kCrlFiles: Readonly<Record<CertKind, string>> = { auth: kCaFiles.authCrl, sign: kCaFiles.signCrl };

/** The fastify app of the CA's HTTP services for the CA in `caDir`; refuses a directory that holds none. */
export function buildCaServer(caDir: string, options: CaServerOptions = {}): FastifyInstance {
  // Fail now with loadCa's message (which file is wrong) rather than on the first request.
  loadCa(caDir);
  const now = options.now ?? ((): Date => new Date());
  const validityMs = options.ocspValidityMs ?? kHour;
  const log = options.log ?? ((): void => undefined);
  const app = Fastify({ logger: false });

  for (const kind of ['auth', 'sign'] as const) {
    app.get(`/crl/${kCrlFiles[kind]}`, async (_request, reply) => {
      // Read on every request: `ca revoke` rewrites the file atomically, and the next fetch must see it.
      const der = await readFile(join(caDir, kCrlFiles[kind]));
      log(`CRL ${kCrlFiles[kind]} (${der.length} bytes)`);
      return reply.header('content-type', 'application/pkix-crl').header('cache-control', 'no-cache').send(der);
    });
  }

  const answer = (reply: FastifyReply, requestDer: Uint8Array | undefined, how: string): FastifyReply => {
    let result: OcspAnswer;
    if (requestDer === undefined) {
      result = { der: bareResponse(kOcspStatus.malformedRequest), summary: 'malformed request (not base64)' };
    } else {
      try {
        // ca.json again on every request: the revocation ledger may have changed since the last one.
        result = answerOcspRequest(loadCa(caDir), requestDer, now(), validityMs);
      } catch (error) {
        result = { der: bareResponse(kOcspStatus.internalError), summary: `internal error (${(error as Error).message})` };
      }
    }
    log(`OCSP ${how}: ${result.summary}`);
    // Errors are OCSP statuses inside a 200 answer (RFC 6960 §2.3), not HTTP errors.
    return reply.header('content-type', 'application/ocsp-response').header('cache-control', 'no-store').send(Buffer.from(result.der));
  };

  app.register(async (ocsp) => {
    ocsp.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: kMaxOcspRequest }, (_request, body, done) => done(null, body));
    ocsp.post('/ocsp', async (request, reply) => answer(reply, new Uint8Array(request.body as Buffer), 'POST'));
  });
  // Which person holds an authentication certificate, and its renewals (J-LIS's platform, reduced).
  app.get('/holders', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const issuer = typeof query['issuer'] === 'string' ? query['issuer'] : '';
    const serial = typeof query['serial'] === 'string' ? query['serial'] : '';
    if (issuer === '' || !/^[0-9A-Fa-f]{2,40}$/.test(serial)) {
      return reply.code(400).send({ code: 'BAD_REQUEST', message: 'give the authentication certificate as ?issuer=<DN>&serial=<hex>' });
    }
    const ca = loadCa(caDir);
    const holder = findHolder(holderRegister(ca.state.issued, formatName(ca.auth.name)), issuer, serial);
    log(`holder ${serial}: ${holder ? holder.person : 'unknown'}`);
    if (!holder) return reply.code(404).send({ code: 'CERTIFICATE_UNKNOWN', message: 'this CA issued no authentication certificate with this issuer and serial to a known person' });
    return reply.header('cache-control', 'no-store').send(holder);
  });

  app.get('/ocsp/*', async (request, reply) => answer(reply, decodeOcspPathRequest((request.params as { '*': string })['*']), 'GET'));

  return app;
}
