/**
 * The notifications the NCI host acts on, as a table keyed by (GID, OID); anything else is logged
 * and ignored.
 */
import { describeMessage, describeStatus, kGid, kOid } from './messages.js';
import type { NciControlMessage } from './packet.js';

export interface NotificationHandlers {
  /** CORE_RESET_NTF. */
  reset(payload: Uint8Array): void;
  /** CORE_CONN_CREDITS_NTF. */
  credits(payload: Uint8Array): void;
  /** RF_INTF_ACTIVATED_NTF. */
  activated(payload: Uint8Array): void;
  /** RF_DEACTIVATE_NTF. */
  deactivated(payload: Uint8Array): void;
  /** RF_FIELD_INFO_NTF: the reader's field came (true) or went. */
  field(on: boolean): void;
  log(line: string): void;
}

type Handler = (payload: Uint8Array, handlers: NotificationHandlers) => void;

const key = (gid: number, oid: number): number => (gid << 8) | oid;

const kHandlers: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [key(kGid.core, kOid.coreReset), (payload, h) => h.reset(payload)],
  [key(kGid.core, kOid.coreConnCredits), (payload, h) => h.credits(payload)],
  [key(kGid.core, kOid.coreGenericError), (payload, h) => h.log(`the NFC controller reports ${describeStatus(payload[0])}`)],
  [key(kGid.core, kOid.coreInterfaceError), (payload, h) => h.log(`the NFC controller reports ${describeStatus(payload[0])} on connection ${payload[1] ?? '?'}`)],
  [key(kGid.rf, kOid.rfIntfActivated), (payload, h) => h.activated(payload)],
  [key(kGid.rf, kOid.rfDeactivate), (payload, h) => h.deactivated(payload)],
  [key(kGid.rf, kOid.rfFieldInfo), (payload, h) => h.field(((payload[0] ?? 0) & 0x01) === 1)],
]);

export function dispatchNotification(message: NciControlMessage, handlers: NotificationHandlers): void {
  const handler = kHandlers.get(key(message.gid, message.oid));
  if (handler) handler(message.payload, handlers);
  else handlers.log(`ignoring ${describeMessage(message)}`);
}
