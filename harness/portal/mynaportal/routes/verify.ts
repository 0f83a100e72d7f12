/**
 * The portal's public verification API, the shape of a platform operator's Verify API: post a
 * certificate (and a signature over some data) and get the verification service's verdict. Every
 * verdict — OK or a refusal — is a 200 whose `code` says the result; only input that cannot be
 * verified at all (400 BAD_REQUEST) and revocation that cannot be checked (503
 * REVOCATION_UNAVAILABLE) are errors. A refusal with a precise cause carries its `reason` from the
 * verification service's registry (verification/reasons.ts).
 */
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import { kPortalErrors, PortalError, sendPortalError, type PortalErrorCode } from '../errors.js';
import { kVerificationReasons, type VerificationReason } from '../../verification/reasons.js';
import type { VerificationResult, Verifier } from '../../verification/types.js';

export interface VerifyRoutesOptions {
  verifier: Verifier;
  /** Adds `detail` (what exactly was wrong) to error answers, as the portal's test mode does. */
  withDetail?: boolean;
}

const Base64 = (description: string) => Type.String({ description: `${description}, standard base64 with padding` });
const Kind = Type.Union([Type.Literal('auth'), Type.Literal('sign')], { description: 'The certificate must chain to this CA; either when absent' });

const CertificateBody = Type.Object(
  {
    certificate: Base64('DER X.509 certificate'),
    kind: Type.Optional(Kind),
  },
  { additionalProperties: false },
);

const SignatureBody = Type.Object(
  {
    certificate: Base64('DER X.509 certificate of the signer'),
    signature: Base64('PKCS#1 v1.5 signature'),
    data: Base64('The signed data (the verifier hashes it)'),
    algorithm: Type.Optional(Type.Union([Type.Literal('sha256'), Type.Literal('sha384'), Type.Literal('sha512')], { default: 'sha256' })),
    kind: Type.Optional(Kind),
  },
  { additionalProperties: false },
);

const VerificationResultSchema = Type.Object({
  code: Type.Union([
    Type.Literal('OK'),
    Type.Literal('UNSUPPORTED_CERTIFICATE'),
    Type.Literal('CERTIFICATE_EXPIRED'),
    Type.Literal('SIGNATURE_MISMATCH'),
    Type.Literal('CERTIFICATE_REVOKED'),
  ]),
  detail: Type.String(),
  reason: Type.Optional(Type.Unsafe<VerificationReason>({ type: 'string', enum: Object.keys(kVerificationReasons) })),
  certificate: Type.Optional(
    Type.Object({
      kind: Type.Union([Type.Literal('auth'), Type.Literal('sign')]),
      serial: Type.String(),
      subject: Type.String(),
      issuer: Type.String(),
      notBefore: Type.String(),
      notAfter: Type.String(),
    }),
  ),
  revocation: Type.Optional(Type.Object({ reason: Type.String(), date: Type.String(), source: Type.Union([Type.Literal('crl'), Type.Literal('ocsp')]) })),
});

const ErrorBody = Type.Object({ code: Type.String(), message: Type.String(), reason: Type.Optional(Type.String()), detail: Type.Optional(Type.String()) });

const kResponses = { 200: VerificationResultSchema, 400: ErrorBody, 503: ErrorBody };

/** Strict base64: JSON carries it padded, and a lenient decoder would verify something else than was sent. */
class MalformedField extends Error {}

function decodeBase64(text: string, field: string, allowEmpty = false): Uint8Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new MalformedField(`${field} is not standard padded base64`);
  if (text.length === 0 && !allowEmpty) throw new MalformedField(`${field} is empty`);
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

export const verifyRoutes: FastifyPluginAsync<VerifyRoutesOptions> = async (fastify, options) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { verifier } = options;
  const withDetail = options.withDetail ?? false;

  /** Runs one verification; the two refusals that are not verdicts become coded error answers. */
  const answer = async (reply: FastifyReply, verification: () => Promise<VerificationResult>): Promise<VerificationResult | FastifyReply> => {
    try {
      return await verification();
    } catch (e) {
      // Duck-typed on `code`, so any Verifier implementation can refuse the same way.
      const code = e instanceof MalformedField ? 'BAD_REQUEST' : (e as { code?: unknown }).code;
      if (code === 'BAD_REQUEST' || code === 'REVOCATION_UNAVAILABLE') {
        // Revocation data that was had but refused says why, with a reason of the registry, detail or not.
        const reason = (e as { reason?: unknown }).reason;
        if (typeof reason !== 'string') return sendPortalError(reply, code satisfies PortalErrorCode, (e as Error).message, withDetail);
        const { detail, ...body } = new PortalError(code, (e as Error).message).body(withDetail);
        return reply.code(kPortalErrors[code].status).send({ ...body, reason, ...(detail === undefined ? {} : { detail }) });
      }
      throw e;
    }
  };

  // Schema and body-parser refusals answer in the portal's error shape too, keeping their status (400, 413, 415).
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (error.validation === undefined && (status < 400 || status >= 500)) throw error;
    const body: { code: 'BAD_REQUEST'; message: string; detail?: string } = { code: 'BAD_REQUEST', message: kPortalErrors.BAD_REQUEST.message };
    if (withDetail) body.detail = error.message;
    return reply.code(error.validation === undefined ? status : 400).send(body);
  });

  app.post('/api/verify/certificate', { schema: { body: CertificateBody, response: kResponses } }, async (request, reply) =>
    answer(reply, async () => {
      const certificate = decodeBase64(request.body.certificate, 'certificate');
      return verifier.verifyCertificate(certificate, { kind: request.body.kind });
    }),
  );

  app.post('/api/verify/signature', { schema: { body: SignatureBody, response: kResponses } }, async (request, reply) =>
    answer(reply, async () => {
      const body = request.body;
      return verifier.verifySignature({
        certificate: decodeBase64(body.certificate, 'certificate'),
        signature: decodeBase64(body.signature, 'signature'),
        // Empty data is legitimate (a signature over nothing); empty certificates and signatures are not.
        data: decodeBase64(body.data, 'data', true),
        algorithm: body.algorithm ?? 'sha256',
        kind: body.kind,
      });
    }),
  );
};
