/**
 * The portal's error registry: the codes the protocols name, and the verification service's refusals
 * and reasons (its docs table and statuses: test/harness/shared/error-registries.test.ts).
 */
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

describe('the portal error registry', () => {
  it('has every code the protocols name', () => {
    for (const code of kRequired) expect(kPortalErrorCodes, code).toContain(code);
  });

  it('covers every refusal of the verification service by the same name', () => {
    const refusals: Exclude<VerificationCode, 'OK'>[] = ['UNSUPPORTED_CERTIFICATE', 'CERTIFICATE_EXPIRED', 'SIGNATURE_MISMATCH', 'CERTIFICATE_REVOKED'];
    for (const code of refusals) expect(isPortalErrorCode(code), code).toBe(true);
    expect(isPortalErrorCode('OK')).toBe(false);
    expect(isPortalErrorCode('toString')).toBe(false);
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
