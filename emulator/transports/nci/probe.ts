/**
 * Asks whatever is at the end of a link whether it is an NCI controller: CORE_RESET, then
 * CORE_INIT, and what the controller says about itself. `jpki-hil doctor --nci` prints the answer;
 * when there is none, the failure says what came back (nothing, or bytes that are not NCI), which
 * is what tells a wrong baud rate or crossed wires from a silent board.
 */
import { toHex } from '../../../iso7816/bytes.js';
import type { ByteLink } from './byte-link.js';
import {
  controllerInfo,
  coreInitPayload,
  describeStatus,
  kCoreResetResetConfig,
  kGid,
  kNciStatus,
  kOid,
  parseCoreInitResponse,
  parseCoreResetNotification,
  parseCoreResetResponse,
  type CoreResetNotification,
  type NciControllerInfo,
} from './messages.js';
import { controlMessage, encodeMessageBytes, NciParser, type NciControlMessage } from './packet.js';

export type NciProbeFailure = 'silent' | 'not-nci' | 'refused' | 'closed';

export class NciProbeError extends Error {
  constructor(
    message: string,
    readonly kind: NciProbeFailure,
    /** The first bytes that came back, in hex (empty when nothing did). */
    readonly received: string,
  ) {
    super(message);
    this.name = 'NciProbeError';
  }
}

export interface NciProbeOptions {
  /** How long to wait for each answer. Default 1000 ms. */
  timeoutMs?: number;
}

const duration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/** CORE_RESET + CORE_INIT over the link; does not close it. */
export async function probeNciController(link: ByteLink, options: NciProbeOptions = {}): Promise<NciControllerInfo> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const parser = new NciParser({ from: 'nfcc' });
  const received: Uint8Array[] = [];
  let receivedCount = 0;
  const messages: NciControlMessage[] = [];
  let garbled = 0;
  let closed: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (bytes: Uint8Array): void => {
    if (receivedCount < 64) received.push(bytes.slice(0, 64 - receivedCount));
    receivedCount += bytes.length;
    for (const event of parser.push(bytes)) {
      if (event.kind === 'garbled') garbled += event.discarded;
      else if (event.message.mt !== 'data') messages.push(event.message);
    }
    wake?.();
  };
  const onClose = (error?: Error): void => {
    closed = error ?? new Error('closed');
    wake?.();
  };
  link.on('data', onData);
  link.on('close', onClose);
  const sample = (): string => toHex(Buffer.concat(received)).slice(0, 64 * 2);

  const next = async (mt: 'response' | 'notification', oid: number, what: string): Promise<Uint8Array> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = messages.findIndex((m) => m.mt === mt && m.gid === kGid.core && m.oid === oid);
      if (index >= 0) return messages.splice(index, 1)[0]!.payload;
      if (closed) throw new NciProbeError(`${link.description} closed while waiting for ${what} (${closed.message})`, 'closed', sample());
      const left = deadline - Date.now();
      if (left <= 0) {
        if (receivedCount === 0) throw new NciProbeError(`no NCI answer within ${duration(timeoutMs)} on ${link.description}`, 'silent', '');
        const nonNci = garbled > 0 || parser.hasPartialPacket;
        const echo = sample().startsWith('20000101') ? '; the line echoes what it is sent (TX tied to RX, or a terminal echo)' : '';
        throw new NciProbeError(
          nonNci
            ? `${receivedCount} byte(s) came back from ${link.description} within ${duration(timeoutMs)}, but not ${what} (${sample()})${echo}`
            : `no ${what} within ${duration(timeoutMs)} on ${link.description} (other NCI messages came: ${sample()})`,
          nonNci ? 'not-nci' : 'silent',
          sample(),
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  };

  try {
    link.write(encodeMessageBytes(controlMessage('command', kGid.core, kOid.coreReset, [kCoreResetResetConfig])));
    const reset = parseCoreResetResponse(await next('response', kOid.coreReset, 'CORE_RESET_RSP'));
    if (reset.status !== kNciStatus.ok) throw new NciProbeError(`the controller answered CORE_RESET with ${describeStatus(reset.status)}`, 'refused', sample());
    let notification: CoreResetNotification | undefined;
    if (reset.nciVersion === undefined) notification = parseCoreResetNotification(await next('notification', kOid.coreReset, 'CORE_RESET_NTF'));
    const version = notification?.nciVersion ?? reset.nciVersion ?? 0x20;
    link.write(encodeMessageBytes(controlMessage('command', kGid.core, kOid.coreInit, coreInitPayload(version))));
    const init = parseCoreInitResponse(await next('response', kOid.coreInit, 'CORE_INIT_RSP'), version);
    if (init.status !== kNciStatus.ok) throw new NciProbeError(`the controller answered CORE_INIT with ${describeStatus(init.status)}`, 'refused', sample());
    return controllerInfo(reset, notification, init);
  } finally {
    link.off('data', onData);
    link.off('close', onClose);
  }
}
