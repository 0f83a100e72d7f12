/**
 * The emulator's public entry point: the only module the harness (its in-process reader) and the
 * CLI import from the card side.
 */
export { answerDetail, Card, type CardRuntimeOptions } from './card/card.js';
export type { CardHooks } from './card/applet.js';
export { kPinIds, type PinId } from './card/file-system.js';
export { kCardOptionChoices, kCardOptionNames, kDefaultCardOptions, type CardOptionName, type CardOptions } from './card/options.js';
export { pinFormatProblem } from './card/pin-verification.js';
export { CardImageError, validateCardImage, type CardImage } from './image/card-image.js';
export { FileImageStore, makeDirectories, MemoryImageStore, parseAtomicTempName, readCardImage, removeStaleTempFiles, serializeCardImage, writeFileAtomic, type CardImageStore } from './image/image-store.js';
export { CardImageLockedError, lockCardImage, lockDirOf, type CardImageLock, type LockHolder } from './image/image-lock.js';
export { closeCardFile, createCard, createMemoryCard, openCardFile } from './open-card.js';
export {
  CardDefinitionError,
  kAtrPresets,
  kDefaultDefinition,
  kRevocationReasons,
  loadCardDefinition,
  parseCardDefinition,
  type CardDefinition,
  type RevocationReason,
} from './issuance/card-definition.js';
export { isValidMyNumber, randomMyNumber } from './issuance/my-number.js';
export { CardFromAnotherCaError, generateCardKey, issueCard, kCardInfoPublicKeyFile, kPinLimits, revokeCardCertificate, type IssuedCardImage } from './issuance/issue-card.js';
export { crlNextUpdates, decodeSignatureIdentity, initCa, loadCa, publishCrls, refreshCrlsIfStale, type TestCa } from './issuance/test-ca.js';
export { kReportSignerAuthority, kReportSignerFiles, reportSigner, reportSignerCaFile, type ReportSigner, type ReportSignerOptions } from './issuance/report-signer.js';
export { kJpkiAid } from './applets/jpki.js';
export { kKenhojoAid } from './applets/kenhojo.js';
export { kKenkakuAid } from './applets/kenkaku.js';
export { kJukiAid } from './applets/juki.js';
export { ServedCard, type TearMoment, type TearPlan, type TraceRecord } from './transports/served-card.js';
export { VpcdConnection, kVpcdPort, type VpcdState } from './transports/vpcd.js';
export { buildControlApp, describeServedCard, type CardSlot, type CardState } from './transports/control-api.js';
export { createLinkPair, type ByteLink, type ByteLinkEvents } from './transports/nci/byte-link.js';
export { NciCardHost, NciHostError, NciPortGoneError, type NciHostEvents, type NciHostOptions, type NciHostState } from './transports/nci/host.js';
export { kDefaultBaudRate, openSerialLink, SerialLinkError, type SerialLinkOptions } from './transports/nci/serial-link.js';
export { NciProbeError, probeNciController, type NciProbeFailure, type NciProbeOptions } from './transports/nci/probe.js';
export { describeController, describeInterface, describeNciVersion, type Activation as NciActivation, type NciControllerInfo, type NfcTechnology } from './transports/nci/messages.js';
/** The NCI wire (packets, segmentation, the incremental parser) and vocabulary, for controller simulators and tools. */
export * as nciPackets from './transports/nci/packet.js';
export * as nciMessages from './transports/nci/messages.js';
export { buildCaServer, type CaServerOptions } from './issuance/ca-server.js';
export { kCertificateHoldersFile, type CertificateHolder } from './issuance/certificate-holders.js';
