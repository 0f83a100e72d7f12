/**
 * The trust anchors a relying party is given: the two CA certificates of the test CA, as the PEM
 * files published next to it. Only those files are read — never the keys or ca.json — so the
 * portal trusts the test CA exactly as a real relying party trusts J-LIS.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { fromBase64 } from '../../../iso7816/bytes.js';
import { unknownCriticalExtensions } from './certificate-facts.js';
import type { CertificateKind } from './types.js';

/** DER CA certificates per kind; more than one per kind during a CA changeover. */
export type TrustAnchors = Record<CertificateKind, Uint8Array[]>;

export const kTrustAnchorFiles: Readonly<Record<CertificateKind, string>> = { auth: 'auth-ca.pem', sign: 'sign-ca.pem' };

/** Every CERTIFICATE block of a PEM text, decoded. */
export function pemCertificates(text: string): Uint8Array[] {
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return blocks.map((match, i) => {
    const body = (match[1] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) throw new TypeError(`certificate ${i + 1} has invalid base64`);
    return fromBase64(body);
  });
}

export function loadTrustAnchors(caDir: string): TrustAnchors {
  const load = (kind: CertificateKind): Uint8Array[] => {
    const path = join(caDir, kTrustAnchorFiles[kind]);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the ${kind} trust anchor ${path}: ${(e as Error).message}`);
    }
    let certificates: Uint8Array[];
    try {
      certificates = pemCertificates(text);
    } catch (e) {
      throw new Error(`${path} is not a PEM certificate file: ${(e as Error).message}`);
    }
    if (certificates.length === 0) throw new Error(`${path} holds no PEM certificate`);
    return certificates;
  };
  return { auth: load('auth'), sign: load('sign') };
}

/** One trust anchor, parsed once when the verifier is created. */
export interface Anchor {
  readonly kind: CertificateKind;
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly pki: pkijs.Certificate;
}

/** Refuses, at start-up, anything that cannot be a CA certificate: a misconfiguration, not a verdict. */
export function prepareAnchor(kind: CertificateKind, der: Uint8Array, index: number): Anchor {
  let x509: X509Certificate;
  let pki: pkijs.Certificate;
  try {
    x509 = new X509Certificate(der);
    pki = pkijs.Certificate.fromBER(der);
  } catch (e) {
    throw new Error(`trust anchor ${kind}[${index}] is not a DER certificate: ${(e as Error).message}`);
  }
  if (!x509.ca) throw new Error(`trust anchor ${kind}[${index}] (${x509.subject.split('\n').join(', ')}) is not a CA certificate`);
  if (x509.publicKey.asymmetricKeyType !== 'rsa') throw new Error(`trust anchor ${kind}[${index}] does not have an RSA key`);
  // RFC 5280 §4.2 holds for the CA certificate of the chain too.
  const unknown = unknownCriticalExtensions((pki.extensions ?? []).filter((e) => e.critical).map((e) => e.extnID));
  if (unknown.length > 0) throw new Error(`trust anchor ${kind}[${index}] has critical extensions this verifier does not process (${unknown.join(', ')})`);
  return { kind, der, x509, pki };
}
