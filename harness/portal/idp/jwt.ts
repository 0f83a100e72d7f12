/**
 * The IdP's signing key and the JWTs it signs (RS256, RFC 7515/7519), with the JWK Set that relying
 * parties verify them with. The key is generated when the IdP starts unless one is given, so tokens
 * from an earlier run never verify.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JsonWebKey & { kid: string; alg: 'RS256'; use: 'sig' };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signingKeyFrom(privateKey?: KeyObject): SigningKey {
  const key = privateKey ?? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') throw new TypeError('the IdP signing key must be an RSA private key');
  const publicJwk = createPublicKey(key).export({ format: 'jwk' });
  // RFC 7638 thumbprint as the key id: stable for the key, different for the next one.
  const kid = createHash('sha256').update(JSON.stringify({ e: publicJwk.e, kty: publicJwk.kty, n: publicJwk.n })).digest('base64url');
  return { kid, privateKey: key, jwk: { kty: 'RSA', n: publicJwk.n, e: publicJwk.e, kid, alg: 'RS256', use: 'sig' } };
}

export function signJwt(key: SigningKey, claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key.privateKey);
  return `${header}.${payload}.${base64url(signature)}`;
}
