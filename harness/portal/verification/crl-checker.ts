/**
 * Revocation by CRL, as a relying party does it: fetch the CA's CRL over HTTP (from the
 * certificate's distribution point unless a URL is configured), check that the CA signed it,
 * keep it for a while, and look the serial up.
 *
 * Caching follows how relying parties treat the J-LIS CRL (refreshed daily, fetched rarely): a
 * CRL is reused for `staleWindowMs`, so a revocation made after it was fetched stays unseen until
 * the window has passed — which is exactly what the harness must be able to show. A CRL past its
 * nextUpdate is never used. When a refresh fails, the last good CRL still serves (if it has not
 * passed nextUpdate); with none, the check fails loudly instead of answering "not revoked".
 *
 * A CRL is refused (RFC 5280 §5) when it has critical extensions — of its own or of an entry — that
 * are not implemented here, when its thisUpdate lies in the future, and when its CRL number is lower
 * than one already seen from the same CA: that is an older CRL replayed to hide a revocation.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { decodeAscii, fromBase64, toHex } from '../../../iso7816/bytes.js';
import { normalizeSerial, type CertificateFacts } from './certificate-facts.js';
import { RevocationUnavailableError } from './errors.js';
import { fetchBinary, type FetchFunction } from './fetch-binary.js';
import { revocationReasonName } from './revocation-reasons.js';
import { kCaNames, type RevocationChecker, type RevocationStatus } from './revocation-status.js';
import type { VerificationReason } from './reasons.js';
import { isSignedBy } from './signed-by-anchor.js';
import type { Anchor } from './trust-anchors.js';
import type { CertificateKind } from './types.js';

const kOid = {
  crlReason: '2.5.29.21',
  crlNumber: '2.5.29.20',
  authorityKeyIdentifier: '2.5.29.35',
  invalidityDate: '2.5.29.24',
} as const;

/** Entry extensions whose meaning we implement (the reason) or that change no verdict (the invalidity date). */
const kUnderstoodEntryExtensions: readonly string[] = [kOid.crlReason, kOid.invalidityDate];

/** Tolerated clock difference between the CA and the verifier for thisUpdate. */
const kClockSkewMs = 5 * 60_000;

/** CRL extensions whose meaning we implement; any other critical one makes the CRL unusable (RFC 5280 §5.2). */
const kUnderstoodCrlExtensions: readonly string[] = [kOid.crlNumber, kOid.authorityKeyIdentifier];

export interface CrlCheckerOptions {
  readonly fetch: FetchFunction;
  readonly now: () => Date;
  readonly staleWindowMs: number;
  readonly timeoutMs: number;
  readonly urls: Partial<Record<CertificateKind, string>>;
}

interface CachedCrl {
  /** When it was fetched, by the verifier's clock. */
  readonly fetchedAt: number;
  readonly nextUpdate: number | undefined;
  readonly revoked: ReadonlyMap<string, { date: Date; reason: string }>;
}

function usable(crl: CachedCrl, now: number): boolean {
  return crl.nextUpdate === undefined || now <= crl.nextUpdate;
}

/** DER as published; a PEM CRL is accepted too, since some servers publish that. */
function crlDer(bytes: Uint8Array): Uint8Array {
  const text = bytes[0] === 0x2d ? decodeAscii(bytes.subarray(0, Math.min(bytes.length, 1 << 20))) : '';
  const pem = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
  return pem ? fromBase64((pem[1] ?? '').replace(/\s+/g, '')) : bytes;
}

function crlNumber(crl: pkijs.CertificateRevocationList): bigint | undefined {
  const ext = crl.crlExtensions?.extensions.find((e) => e.extnID === kOid.crlNumber);
  if (ext === undefined) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (!(parsed.result instanceof asn1js.Integer)) throw new Error('the cRLNumber extension is not an INTEGER');
  return parsed.result.toBigInt();
}

function reasonCode(entry: pkijs.RevokedCertificate): number | undefined {
  const ext = entry.crlEntryExtensions?.extensions.find((e) => e.extnID === kOid.crlReason);
  if (ext === undefined) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  return parsed.result instanceof asn1js.Enumerated ? parsed.result.valueBlock.valueDec : undefined;
}

export class CrlChecker implements RevocationChecker {
  private readonly _cache = new Map<string, CachedCrl>();
  /** One fetch per CRL at a time, however many verifications wait for it. */
  private readonly _inflight = new Map<string, Promise<CachedCrl>>();
  /** The highest CRL number accepted per CA (by its certificate's fingerprint), whatever the URL. */
  private readonly _highestNumber = new Map<string, bigint>();

  constructor(private readonly _options: CrlCheckerOptions) {}

  async check(certificate: CertificateFacts, anchor: Anchor): Promise<RevocationStatus> {
    const url = this._options.urls[anchor.kind] ?? certificate.crlUrls.find((u) => /^https?:\/\//i.test(u));
    if (url === undefined) {
      throw new RevocationUnavailableError(`the certificate names no HTTP CRL distribution point and no CRL URL is configured for the ${kCaNames[anchor.kind]}`);
    }
    const crl = await this._crl(url, anchor);
    const entry = crl.revoked.get(certificate.serial);
    return entry === undefined ? { revoked: false } : { revoked: true, ...entry, source: 'crl' };
  }

  private async _crl(url: string, anchor: Anchor): Promise<CachedCrl> {
    // Keyed by anchor too: the same URL checked against another CA must be verified again.
    const key = `${anchor.x509.fingerprint256} ${url}`;
    const now = this._options.now().getTime();
    const cached = this._cache.get(key);
    if (cached !== undefined && now - cached.fetchedAt < this._options.staleWindowMs && usable(cached, now)) return cached;
    try {
      return await this._fetchOnce(key, url, anchor);
    } catch (e) {
      if (cached !== undefined && usable(cached, now)) return cached;
      throw e instanceof RevocationUnavailableError ? e : new RevocationUnavailableError((e as Error).message, { cause: e });
    }
  }

  private _fetchOnce(key: string, url: string, anchor: Anchor): Promise<CachedCrl> {
    let pending = this._inflight.get(key);
    if (pending === undefined) {
      pending = this._load(url, anchor)
        .then((crl) => {
          this._cache.set(key, crl);
          return crl;
        })
        .finally(() => this._inflight.delete(key));
      this._inflight.set(key, pending);
    }
    return pending;
  }

  private async _load(url: string, anchor: Anchor): Promise<CachedCrl> {
    const fetchedAt = this._options.now().getTime();
    const what = `CRL of the ${kCaNames[anchor.kind]}`;
    const der = crlDer(await fetchBinary(this._options.fetch, url, { headers: { accept: 'application/pkix-crl' } }, this._options.timeoutMs, what));
    const asn1 = asn1js.fromBER(der);
    let crl: pkijs.CertificateRevocationList;
    try {
      if (asn1.offset === -1) throw new Error(asn1.result.error || 'not DER');
      crl = new pkijs.CertificateRevocationList({ schema: asn1.result });
    } catch (e) {
      throw new Error(`the ${what} from ${url} is not a CRL (${(e as Error).message})`);
    }
    if (!crl.issuer.isEqual(anchor.pki.subject)) throw new Error(`the CRL from ${url} was not issued by the ${kCaNames[anchor.kind]}`);
    let signed: boolean;
    try {
      signed = isSignedBy(crl.tbsView, crl.signatureAlgorithm.algorithmId, crl.signatureValue.valueBlock.valueHexView, anchor.x509.publicKey);
    } catch (e) {
      throw new Error(`the ${what} from ${url}: ${(e as Error).message}`);
    }
    if (!signed) throw new Error(`the CRL from ${url} does not verify with the key of the ${kCaNames[anchor.kind]}`);
    const unknownCritical = (crl.crlExtensions?.extensions ?? []).filter((e) => e.critical && !kUnderstoodCrlExtensions.includes(e.extnID));
    if (unknownCritical.length > 0) throw new Error(`the ${what} from ${url} has critical extensions this verifier does not implement (${unknownCritical.map((e) => e.extnID).join(', ')})`);
    const refuse = (problem: string, reason: VerificationReason): RevocationUnavailableError => new RevocationUnavailableError(`the ${what} from ${url} ${problem}`, { reason });
    const criticalEntry = (crl.revokedCertificates ?? []).flatMap((entry) =>
      (entry.crlEntryExtensions?.extensions ?? []).filter((e) => e.critical && !kUnderstoodEntryExtensions.includes(e.extnID)).map((e) => e.extnID),
    );
    if (criticalEntry.length > 0) throw refuse(`has entries with critical extensions this verifier does not implement (${[...new Set(criticalEntry)].join(', ')})`, 'CRL_ENTRY_EXTENSION_UNKNOWN');
    const thisUpdate = crl.thisUpdate.value.getTime();
    if (thisUpdate > fetchedAt + kClockSkewMs) throw refuse(`is dated in the future (thisUpdate ${new Date(thisUpdate).toISOString()})`, 'CRL_NOT_YET_VALID');
    const anchorKey = anchor.x509.fingerprint256;
    const number = crlNumber(crl);
    const highest = this._highestNumber.get(anchorKey);
    if (number !== undefined && highest !== undefined && number < highest) {
      throw refuse(`has CRL number ${number}, lower than ${highest} already seen from this CA (an older CRL replayed)`, 'CRL_NUMBER_DECREASED');
    }
    const nextUpdate = crl.nextUpdate?.value.getTime();
    if (nextUpdate !== undefined && fetchedAt > nextUpdate) {
      throw new Error(`the ${what} from ${url} is out of date (nextUpdate ${new Date(nextUpdate).toISOString()}); the CA must publish a new one`);
    }
    const revoked = new Map<string, { date: Date; reason: string }>();
    for (const entry of crl.revokedCertificates ?? []) {
      revoked.set(normalizeSerial(toHex(entry.userCertificate.valueBlock.valueHexView)), { date: entry.revocationDate.value, reason: revocationReasonName(reasonCode(entry)) });
    }
    if (number !== undefined && (highest === undefined || number > highest)) this._highestNumber.set(anchorKey, number);
    return { fetchedAt, nextUpdate, revoked };
  }
}
