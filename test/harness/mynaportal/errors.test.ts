/** The error registry: complete, documented, and turned into answers the same way everywhere. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPortalErrorCode, kPortalErrorCodes, kPortalErrors, PortalError } from '../../../harness/portal/mynaportal/errors.js';
import { kVerificationReasons } from '../../../harness/portal/verification/reasons.js';
import type { VerificationCode } from '../../../harness/portal/verification/types.js';
import { kPackageRoot } from '../../support/cards.js';

const kRequired = [
  'BAD_REQUEST',
  'CSRF_INVALID',
  'NOT_LOGGED_IN',
  'NONCE_UNKNOWN',
  'NONCE_EXPIRED',
  'NONCE_USED',
  'UNSUPPORTED_CERTIFICATE',
  'CERTIFICATE_EXPIRED',
  'SIGNATURE_MISMATCH',
  'CERTIFICATE_REVOKED',
  'REVOCATION_UNAVAILABLE',
  'CARD_INFO_INVALID',
  'LOGIN_PENDING_EXPIRED',
  'RATE_LIMITED',
  'QR_UNKNOWN',
  'QR_EXPIRED',
  'QR_ALREADY_USED',
  'QR_SESSION_MISMATCH',
];

/** `| \`CODE\` | status | …` rows of docs/portal-errors.md. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(join(kPackageRoot, 'docs', 'portal-errors.md'), 'utf8');
  return new Map([...text.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
}

describe('the portal error registry', () => {
  it('has every code the protocols name', () => {
    for (const code of kRequired) expect(kPortalErrorCodes, code).toContain(code);
  });

  it('gives every code an error status and a Japanese message', () => {
    for (const code of kPortalErrorCodes) {
      const { status, message } = kPortalErrors[code];
      expect(status >= 400 && status <= 599, `${code} status ${status}`).toBe(true);
      expect(message, code).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
      expect(message.endsWith('。'), `${code} message ends a sentence`).toBe(true);
    }
  });

  it('covers every refusal of the verification service by the same name', () => {
    const refusals: Exclude<VerificationCode, 'OK'>[] = ['UNSUPPORTED_CERTIFICATE', 'CERTIFICATE_EXPIRED', 'SIGNATURE_MISMATCH', 'CERTIFICATE_REVOKED'];
    for (const code of refusals) expect(isPortalErrorCode(code), code).toBe(true);
    expect(isPortalErrorCode('OK')).toBe(false);
    expect(isPortalErrorCode('toString')).toBe(false);
  });

  it('is documented in docs/portal-errors.md: exactly the same codes, with the same statuses', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual([...kPortalErrorCodes].sort());
    for (const [code, status] of documented) expect(status, code).toBe(kPortalErrors[code as keyof typeof kPortalErrors].status);
  });

  it('documents every verification reason in docs/portal-errors.md, with the code it travels as, a portal code', () => {
    const text = readFileSync(join(kPackageRoot, 'docs', 'portal-errors.md'), 'utf8');
    const documented = new Map([...text.matchAll(/^\| `([A-Z_]+)` \| `([A-Z_]+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
    expect([...documented.keys()].sort()).toEqual(Object.keys(kVerificationReasons).sort());
    for (const [reason, { code }] of Object.entries(kVerificationReasons)) {
      expect(documented.get(reason), reason).toBe(code);
      expect(isPortalErrorCode(code), code).toBe(true);
    }
  });

  it('answers { code, message }, with the detail only when asked', () => {
    const error = new PortalError('NONCE_USED', 'used at 12:00');
    expect(error.status).toBe(409);
    expect(error.body(false)).toEqual({ code: 'NONCE_USED', message: kPortalErrors.NONCE_USED.message });
    expect(error.body(true)).toEqual({ code: 'NONCE_USED', message: kPortalErrors.NONCE_USED.message, detail: 'used at 12:00' });
  });
});
