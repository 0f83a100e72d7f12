/**
 * Who holds an authentication certificate, as the issuer says (docs/portal-protocols.md, "Whose
 * card is it"). The authentication certificate names nobody (`C=JP, CN=<opaque>`), and the
 * card-info files a client posts prove only that *some* card carried them; so the portals ask the
 * issuer's certificate-to-person register — J-LIS's platform, here the test CA's — which person
 * holds the certificate that just signed, which certificate of theirs it renewed, and the digest of
 * the basic 4 written into that card (to check card-info files before they fill a form).
 *
 * Reached like the CRLs: the file the CA publishes next to its certificates (`file:` URL, the
 * default: works without any server) or `jpki-hil ca serve` over HTTP (`http:` base URL).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** One authentication certificate in the register (the test CA's certificate-holders.ts, by value). */
export interface CertificateHolder {
  issuer: string;
  /** Upper-case hex. */
  serial: string;
  /** Stable across renewals and moves; opaque. */
  person: string;
  notAfter: string;
  /** SHA-256 of the card's basic-4 span (kenhojo EF 0003 DF32), upper-case hex. */
  cardInfoDigest?: string;
  /** The same person's earlier authentication certificate, which this one replaced. */
  renews?: string;
  /** The same person's later authentication certificate, which replaced this one. */
  renewedBy?: string;
  revoked?: boolean;
}

export interface HolderDirectory {
  /** The holder of the certificate, or undefined when the issuer knows of none; throws HolderDirectoryError when it cannot ask. */
  holderOf(issuer: string, serial: string): Promise<CertificateHolder | undefined>;
}

/** The register could not be asked (file missing, server down, nonsense answer). */
export class HolderDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HolderDirectoryError';
  }
}

const kTimeoutMs = 5000;

function isHolder(value: unknown): value is CertificateHolder {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v['issuer'] === 'string' && typeof v['serial'] === 'string' && typeof v['person'] === 'string' && v['person'] !== '';
}

/**
 * The register at `url`: a `file:` URL of the published JSON, or the `http(s):` base URL of the
 * CA's server (which answers `GET <base>holders?issuer=…&serial=…`).
 */
export function holderDirectoryAt(url: string, fetchImpl: typeof fetch = fetch): HolderDirectory {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    return {
      async holderOf(issuer, serial) {
        let register: { certificates?: unknown };
        try {
          // Read on every question: the CA rewrites the file at each issuance and revocation.
          register = JSON.parse(await readFile(path, 'utf8')) as { certificates?: unknown };
        } catch (e) {
          throw new HolderDirectoryError(`the certificate-to-person register ${path} cannot be read (${(e as Error).message}); the test CA writes it when it issues a card`);
        }
        if (!Array.isArray(register.certificates)) throw new HolderDirectoryError(`${path} is not a certificate-to-person register`);
        const wanted = serial.toUpperCase();
        return register.certificates.find((c): c is CertificateHolder => isHolder(c) && c.issuer === issuer && c.serial === wanted);
      },
    };
  }
  if (!/^https?:/.test(url)) throw new TypeError(`the certificate-to-person register must be a file: or http(s): URL, not "${url}"`);
  const base = url.endsWith('/') ? url : `${url}/`;
  return {
    async holderOf(issuer, serial) {
      const target = `${base}holders?${new URLSearchParams({ issuer, serial }).toString()}`;
      let response: Response;
      try {
        response = await fetchImpl(target, { signal: AbortSignal.timeout(kTimeoutMs), headers: { accept: 'application/json' } });
      } catch (e) {
        throw new HolderDirectoryError(`the certificate-to-person register at ${base} did not answer (${(e as Error).message})`);
      }
      if (response.status === 404) return undefined;
      if (!response.ok) throw new HolderDirectoryError(`the certificate-to-person register at ${base} answered ${response.status}`);
      const body: unknown = await response.json().catch(() => undefined);
      if (!isHolder(body) || body.issuer !== issuer || body.serial !== serial.toUpperCase()) {
        throw new HolderDirectoryError(`the certificate-to-person register at ${base} answered about another certificate, or not in its format`);
      }
      return body;
    },
  };
}
