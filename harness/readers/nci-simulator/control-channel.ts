/**
 * The simulated NFCC's control channel: command segments from the DH put back together (and not
 * interleaved), no longer than CORE_INIT_RSP announced, one command outstanding at a time, each
 * handed to its handler in the command table; and responses and notifications sent back,
 * segmented to 255 bytes.
 */
import { concat } from '../../../iso7816/bytes.js';
import type { CommandTable, SimulatorCore } from './command-context.js';
import type { ControllerState } from './controller-types.js';
import { describePacket, kMt, kOp, kStatus, opName, segmentMessage, type MessageType, type NciPacket } from './nci-packets.js';
import type { PacedLine } from './paced-line.js';

export interface ControlChannelDeps {
  readonly line: PacedLine;
  readonly commands: CommandTable;
  readonly maxControlPayload: number;
  state(): ControllerState;
  /** The controller as the handlers see it. */
  core(): SimulatorCore;
  /** A whole command came, by name ("CORE_RESET_CMD"). */
  command(name: string): void;
  violation(message: string): void;
  log(line: string): void;
}

export class ControlChannel {
  private _commandParts: { gid: number; oid: number; parts: Uint8Array[] } | undefined;
  /** A command whose response has not gone out yet (NCI allows one outstanding command). */
  private _awaitingResponse: string | undefined;

  constructor(private readonly _deps: ControlChannelDeps) {}

  /** A command packet from the DH. */
  received(packet: NciPacket): void {
    const d = this._deps;
    const parts = this._commandParts;
    if (parts && (parts.gid !== packet.gid || parts.oid !== packet.oid)) {
      d.violation(`the DH interleaved ${opName(packet.gid, packet.oid)}_CMD into the segments of ${opName(parts.gid, parts.oid)}_CMD`);
      this._commandParts = undefined;
    }
    if (packet.payload.length > d.maxControlPayload && d.state() !== 'powered' && d.state() !== 'reset') {
      d.violation(`${describePacket(packet)} carries ${packet.payload.length} bytes, more than the ${d.maxControlPayload} announced in CORE_INIT_RSP`);
    }
    if (packet.pbf) {
      this._commandParts ??= { gid: packet.gid, oid: packet.oid, parts: [] };
      this._commandParts.parts.push(packet.payload);
      return;
    }
    const payload = this._commandParts ? concat(...this._commandParts.parts, packet.payload) : packet.payload;
    this._commandParts = undefined;
    const name = `${opName(packet.gid, packet.oid)}_CMD`;
    d.command(name);
    const op = (packet.gid << 8) | packet.oid;
    if (this._awaitingResponse && op !== kOp.coreReset) {
      d.violation(`the DH sent ${name} before the response to ${this._awaitingResponse} (NCI allows one outstanding command)`);
    }
    this._awaitingResponse = name;
    void this._handle(op, name, payload).catch((e: unknown) => d.violation(`simulator fault answering ${name}: ${(e as Error).stack ?? String(e)}`));
  }

  /** A control message to the DH, segmented; resolves once its last packet is out. */
  send(mt: MessageType, op: number, payload: readonly number[] | Uint8Array): Promise<void> {
    const packets = segmentMessage(mt, op >> 8, op & 0x3f, Uint8Array.from(payload), 255);
    let last: Promise<void> = Promise.resolve();
    packets.forEach((packet, i) => {
      const isLast = i === packets.length - 1;
      // The DH may send its next command once this response is out (one outstanding command).
      last = this._deps.line.write(packet, mt === kMt.response && isLast ? () => (this._awaitingResponse = undefined) : undefined);
    });
    return last;
  }

  /** The controller reset itself: half a command and an unanswered one are forgotten. */
  reset(): void {
    this._commandParts = undefined;
    this._awaitingResponse = undefined;
  }

  private async _handle(op: number, name: string, payload: Uint8Array): Promise<void> {
    const respond = (bytes: readonly number[] | Uint8Array): Promise<void> => this.send(kMt.response, op, bytes);
    const handler = this._deps.commands.get(op);
    if (!handler) {
      this._deps.log(`unknown command ${name}: answering SYNTAX_ERROR`);
      return respond([kStatus.syntaxError]);
    }
    const refuse = (why: string): Promise<void> => {
      this._deps.violation(`${name} ${why}`);
      return respond([kStatus.semanticError]);
    };
    return handler(this._deps.core(), { payload, respond, refuse });
  }
}
