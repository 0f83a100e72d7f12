/**
 * Schema pieces the route plugins share. Lengths are generous for what the card produces (an
 * RSA-2048 signature is 344 base64 characters, a JPKI certificate about 2 KB) and small enough that
 * nobody can post megabytes into a login.
 */
import { Type } from '@fastify/type-provider-typebox';

/** Standard base64 with padding, as docs/portal-protocols.md requires for every binary value. */
export const kBase64Pattern = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

export function base64(maxLength: number, description: string) {
  return Type.String({ pattern: kBase64Pattern, minLength: 4, maxLength, description });
}

/** QR session ids and tokens: base64url without padding. */
export const kQrIdSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'QR session id (public)' });
export const kQrTokenSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{32,128}$', description: 'QR session token (the secret in the QR code)' });

export const kEmptyBody = Type.Object({}, { additionalProperties: false });

export const kNextAnswer = Type.Object({ next: Type.String() });
