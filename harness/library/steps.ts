/**
 * jpki-hil/steps: what a custom step module of a YAML scenario imports — the context every step
 * gets (CustomStepContext), and the card-side parts a step drives itself: the JPKI client, the
 * simulated phone apps and their errors. The shipped step modules under scenarios/ use this entry,
 * as a user's own do (docs/scenarios.md "Custom steps").
 */
export type { CustomStep, CustomStepContext } from '../runner/steps/step-api.js';
export { CardCommandError, JpkiClient, kAids, PinError, sha256DigestInfo, type CardPin, type CertificateKind, type JpkiPin } from '../jpki/jpki-client.js';
export type { CardConnection, Reader } from '../readers/reader.js';
export { AuthApp } from '../agents/phone/auth-app.js';
export { PhoneError } from '../agents/phone/phone-http.js';
export { SigningApp } from '../agents/phone/signing-app.js';
export { XidApp } from '../agents/phone/xid-app.js';
