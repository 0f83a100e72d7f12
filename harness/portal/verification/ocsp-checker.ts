/**
 * Revocation by OCSP (RFC 6960), for same-day certainty where a CRL would lag: one request per
 * verification, built with pkijs, with a fresh nonce; the answer counts only when the CA itself
 * signed it (the test CA's responder does; delegated responder certificates are not accepted),
 * it is about this very certificate, it echoes the nonce when it carries one, and it is current.
 * An answer without the nonce (a pre-produced one, RFC 5019) must say how long it holds (nextUpdate)
 * and be at most `maxAgeMs` old: otherwise nothing shows that it was not recorded long ago and
 * replayed after a revocation.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes } from '../../../iso7816/bytes.js';
import type { CertificateFacts } from './certificate-facts.js';
import { RevocationUnavailableError } from './errors.js';
import { fetchBinary, type FetchFunction } from './fetch-binary.js';
import { revocationReasonName } from './revocation-reasons.js';
import { kCaNames, type RevocationChecker, type RevocationStatus } from './revocation-status.js';
import { isSignedBy } from './signed-by-anchor.js';
import type { Anchor } from './trust-anchors.js';

const kOid = {
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
} as const;

const kResponseStatusNames: Readonly<Record<number, string>> = {
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

/** Tolerated clock difference between responder and verifier for thisUpdate / nextUpdate. */
const kClockSkewMs = 5 * 60_000;

export interface OcspCheckerOptions {
  readonly fetch: FetchFunction;
  readonly now: () => Date;
  readonly timeoutMs: number;
  /** How old (now − thisUpdate) an answer without the nonce echo may be. */
  readonly maxAgeMs: number;
  /** Overrides the certificate's AIA OCSP address (the test CA writes none). */
  readonly url?: string | undefined;
}

/** The nonce as RFC 8954 puts it in extnValue: an OCTET STRING holding the nonce octets. */
function nonceExtnValue(nonce: Uint8Array): Uint8Array {
  return new Uint8Array(new asn1js.OctetString({ valueHex: nonce }).toBER(false));
}

function isResponder(basic: pkijs.BasicOCSPResponse, anchor: Anchor): boolean {
  const id: unknown = basic.tbsResponseData.responderID;
  if (id instanceof pkijs.RelativeDistinguishedNames) return id.isEqual(anchor.pki.subject);
  if (id instanceof asn1js.OctetString) {
    // byKey: SHA-1 of the responder's subjectPublicKey bits (RFC 6960 §4.2.1).
    const keyHash = createHash('sha1').update(anchor.pki.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest();
    return equalBytes(id.valueBlock.valueHexView, keyHash);
  }
  return false;
}

type CertStatus = { kind: 'good' } | { kind: 'unknown' } | { kind: 'revoked'; date: Date; reason: string };

function describeCertStatus(status: asn1js.BaseBlock): CertStatus {
  const tag = status.idBlock.tagNumber;
  if (status.idBlock.tagClass !== 3 || tag > 2) throw new Error('the certStatus is not good, revoked or unknown');
  if (tag === 0) return { kind: 'good' };
  if (tag === 2) return { kind: 'unknown' };
  const info = (status as asn1js.Constructed).valueBlock.value;
  const time = info[0];
  if (!(time instanceof asn1js.GeneralizedTime)) throw new Error('the RevokedInfo has no revocationTime');
  const reason = (info[1] as asn1js.Constructed | undefined)?.valueBlock.value[0];
  return { kind: 'revoked', date: time.toDate(), reason: revocationReasonName(reason instanceof asn1js.Enumerated ? reason.valueBlock.valueDec : undefined) };
}

/** The BasicOCSPResponse inside a successful answer; throws with what is wrong otherwise. */
function basicResponse(der: Uint8Array): pkijs.BasicOCSPResponse {
  let response: pkijs.OCSPResponse;
  try {
    response = pkijs.OCSPResponse.fromBER(der);
  } catch (e) {
    throw new Error(`is not an OCSP response (${(e as Error).message})`);
  }
  const status = response.responseStatus.valueBlock.valueDec;
  if (status !== 0) throw new Error(`is an error: ${kResponseStatusNames[status] ?? `status ${status}`}`);
  if (response.responseBytes?.responseType !== kOid.ocspBasic) throw new Error('is not a basic OCSP response');
  try {
    return pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView);
  } catch (e) {
    throw new Error(`holds no valid BasicOCSPResponse (${(e as Error).message})`);
  }
}

export class OcspChecker implements RevocationChecker {
  constructor(private readonly _options: OcspCheckerOptions) {}

  async check(certificate: CertificateFacts, anchor: Anchor): Promise<RevocationStatus> {
    const url = this._options.url ?? certificate.ocspUrls.find((u) => /^https?:\/\//i.test(u));
    if (url === undefined) throw new RevocationUnavailableError(`no OCSP responder is configured and the certificate names none (${kCaNames[anchor.kind]})`);
    try {
      return await this._ask(url, certificate, anchor);
    } catch (e) {
      throw e instanceof RevocationUnavailableError ? e : new RevocationUnavailableError((e as Error).message, { cause: e });
    }
  }

  private async _ask(url: string, certificate: CertificateFacts, anchor: Anchor): Promise<RevocationStatus> {
    const request = new pkijs.OCSPRequest();
    // SHA-1 in the CertID, as RFC 5019 responders expect: it only names the certificate; the
    // response signature is what is trusted.
    await request.createForCertificate(certificate.pki, { hashAlgorithm: 'SHA-1', issuerCertificate: anchor.pki });
    const certId = request.tbsRequest.requestList[0]?.reqCert;
    if (certId === undefined) throw new Error('pkijs built an OCSP request without a CertID');
    const nonce = nonceExtnValue(randomBytes(16));
    request.tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: kOid.ocspNonce, critical: false, extnValue: nonce.slice().buffer })];
    const body = new Uint8Array(request.toSchema(true).toBER(false));

    const what = `OCSP answer of the ${kCaNames[anchor.kind]}`;
    const der = await fetchBinary(
      this._options.fetch,
      url,
      { method: 'POST', headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' }, body },
      this._options.timeoutMs,
      what,
    );
    const fail = (problem: string): Error => new Error(`the ${what} from ${url} ${problem}`);

    let basic: pkijs.BasicOCSPResponse;
    try {
      basic = basicResponse(der);
    } catch (e) {
      throw fail((e as Error).message);
    }

    if (!isResponder(basic, anchor)) throw fail('is not signed by the CA itself (delegated responders are not accepted)');
    let signed: boolean;
    try {
      signed = isSignedBy(basic.tbsResponseData.tbsView, basic.signatureAlgorithm.algorithmId, basic.signature.valueBlock.valueHexView, anchor.x509.publicKey);
    } catch (e) {
      throw fail((e as Error).message);
    }
    if (!signed) throw fail(`does not verify with the key of the ${kCaNames[anchor.kind]}`);

    const echoed = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === kOid.ocspNonce);
    if (echoed !== undefined && !equalBytes(echoed.extnValue.valueBlock.valueHexView, nonce)) throw fail('answers another request (nonce mismatch)');

    const single = basic.tbsResponseData.responses.find((r) => r.certID.isEqual(certId));
    if (single === undefined) throw fail('does not speak about this certificate');
    const now = this._options.now().getTime();
    if (single.thisUpdate.getTime() > now + kClockSkewMs) throw fail(`is dated in the future (thisUpdate ${single.thisUpdate.toISOString()})`);
    if (single.nextUpdate !== undefined && single.nextUpdate.getTime() < now - kClockSkewMs) throw fail(`is out of date (nextUpdate ${single.nextUpdate.toISOString()})`);
    if (echoed === undefined) {
      const stale = (problem: string): RevocationUnavailableError => new RevocationUnavailableError(fail(problem).message, { reason: 'OCSP_RESPONSE_NOT_FRESH' });
      if (single.nextUpdate === undefined) throw stale('echoes no nonce and has no nextUpdate: nothing shows it is current');
      const age = now - single.thisUpdate.getTime();
      if (age > this._options.maxAgeMs + kClockSkewMs) {
        throw stale(`echoes no nonce and is ${Math.round(age / 1000)} s old (thisUpdate ${single.thisUpdate.toISOString()}), more than the ${Math.round(this._options.maxAgeMs / 1000)} s allowed`);
      }
    }

    const status = describeCertStatus(single.certStatus as asn1js.BaseBlock);
    // "unknown" means this responder does not serve the certificate: a set-up problem, not a verdict.
    if (status.kind === 'unknown') throw fail(`says the certificate ${certificate.serial} is unknown to it`);
    return status.kind === 'good' ? { revoked: false } : { revoked: true, date: status.date, reason: status.reason, source: 'ocsp' };
  }
}
