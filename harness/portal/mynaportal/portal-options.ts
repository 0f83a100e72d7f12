/**
 * Portal options from a test CA directory, reading only what a relying party is given: the CA
 * certificates (trust anchors), the published CRLs, the card-info public key and the issuer's
 * certificate-to-person register. Never the keys, never ca.json.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PortalOptions } from './app.js';
import { holderDirectoryAt } from '../shared/holders.js';
import { createVerifier, loadTrustAnchors, type RevocationMode } from '../verification/index.js';

export const kCardInfoPublicKeyFile = 'card-info-ap.pub.pem';
/** The certificate-to-person register the test CA publishes next to its certificates (holders.ts). */
export const kCertificateHoldersFile = 'certificate-holders.json';
/** The CRL files the test CA publishes next to its certificates. */
export const kCrlFiles = { auth: 'auth.crl', sign: 'sign.crl' } as const;

/** The CA directory lacks something the portal needs; the message says how to make it. */
export class CaDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaDirectoryError';
  }
}

export interface CaDirectorySettings extends Omit<PortalOptions, 'verifier' | 'cardInfoPublicKey' | 'holders' | 'cookieSecret'> {
  /** Random for each start when absent (sessions then end with the process). */
  cookieSecret?: string;
  /** How revocation is checked: by CRL (default), by an OCSP responder, or not at all. */
  revocation?: RevocationMode;
  /**
   * Where CRLs come from: the files the CA directory publishes (default: works without any server),
   * or each certificate's CRL distribution point over HTTP (needs `jpki-hil ca serve`).
   */
  crlSource?: 'files' | 'cdp';
  /** The OCSP responder, required with `revocation: 'ocsp'` (the test CA's certificates name none). */
  ocspUrl?: string;
  /** How long a CRL read is reused (the verifier's default when absent). */
  crlStaleWindowMs?: number;
  /**
   * Where the certificate-to-person register is asked: the file the CA directory publishes
   * (default), or the base URL of `jpki-hil ca serve` (`http://127.0.0.1:8080/`).
   */
  holdersUrl?: string;
}

/**
 * `fetch` that also reads `file:` URLs, so the verifier can take the CA's CRL files the way it takes
 * a CRL over HTTP (a missing file is a 404, which the verifier reports as revocation unavailable).
 */
export const fetchWithFiles: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith('file:')) return fetch(input, init);
  try {
    return new Response(await readFile(fileURLToPath(url)), { status: 200 });
  } catch {
    return new Response(null, { status: 404 });
  }
};

export function portalOptionsFromCaDir(caDir: string, settings: CaDirectorySettings): PortalOptions {
  if (!existsSync(caDir)) throw new CaDirectoryError(`no test CA directory at ${caDir}; create one with: jpki-hil ca init --dir ${caDir}`);
  let trustAnchors;
  try {
    trustAnchors = loadTrustAnchors(caDir);
  } catch (e) {
    throw new CaDirectoryError(`${(e as Error).message}; create the test CA with: jpki-hil ca init --dir ${caDir}`);
  }
  const keyPath = join(caDir, kCardInfoPublicKeyFile);
  if (!existsSync(keyPath)) {
    throw new CaDirectoryError(`${keyPath} is missing: the test CA writes it when it issues its first card (jpki-hil card issue --ca ${caDir})`);
  }
  const mode = settings.revocation ?? 'crl';
  if (mode === 'ocsp' && !settings.ocspUrl) throw new CaDirectoryError('OCSP revocation checking needs the responder URL (the test CA certificates name none)');
  const { revocation: _revocation, crlSource = 'files', ocspUrl, crlStaleWindowMs, cookieSecret, holdersUrl, ...rest } = settings;
  const crlFiles = { auth: pathToFileURL(join(caDir, kCrlFiles.auth)).href, sign: pathToFileURL(join(caDir, kCrlFiles.sign)).href };
  const verifier = createVerifier({
    trustAnchors,
    now: settings.now,
    revocation: {
      mode,
      crlUrls: mode === 'crl' && crlSource === 'files' ? crlFiles : undefined,
      ocspUrl,
      staleWindowMs: crlStaleWindowMs,
      fetch: fetchWithFiles,
    },
  });
  return {
    ...rest,
    verifier,
    cardInfoPublicKey: readFileSync(keyPath),
    holders: holderDirectoryAt(holdersUrl ?? pathToFileURL(join(caDir, kCertificateHoldersFile)).href),
    cookieSecret: cookieSecret ?? randomBytes(32).toString('base64url'),
  };
}
