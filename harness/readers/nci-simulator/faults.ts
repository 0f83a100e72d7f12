/** The bytes of the line faults the simulator injects: garbage, and a packet cut short. */
import { INS } from '../../../iso7816/instructions.js';
import { encodePacket, kGid, kMt, kOp } from './nci-packets.js';
import { activatedPayload } from './rf-activation.js';

/** SELECT of the JPKI AP: the C-APDU a truncated data packet carries. */
const kSelectJpki = [0x00, INS.SELECT, 0x04, 0x0c, 0x0a, 0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/** Bytes that no NFCC would send: bytes whose message type is reserved. */
export function garbageBytes(): Uint8Array {
  return Uint8Array.from([0xff, 0xa5, 0xc3, 0x99, 0xee, 0x81, 0xf0, 0xb7]);
}

/**
 * The first half (at least 4 bytes) of a packet whose header promises more: while a card is active
 * a data packet (a C-APDU cut short); otherwise an RF_INTF_ACTIVATED_NTF cut in the middle.
 */
export function truncatedPacket(active: boolean): { cut: Uint8Array; whole: number } {
  const packet = active
    ? encodePacket({ mt: kMt.data, pbf: false, gid: 0, oid: 0, payload: Uint8Array.from(kSelectJpki) })
    : encodePacket({ mt: kMt.notification, pbf: false, gid: kGid.rf, oid: kOp.rfIntfActivated & 0x3f, payload: Uint8Array.from(activatedPayload(0xff, 0x01, new Uint8Array(0))) });
  return { cut: packet.subarray(0, Math.max(4, Math.floor(packet.length / 2))), whole: packet.length };
}
