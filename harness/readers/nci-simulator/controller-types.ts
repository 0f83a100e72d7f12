/** The controller simulator's public types: its options, states, activations, events and error. */
import type { PtyPair } from './pty-pair.js';

export type NciVersion = '1.0' | '2.0';

/**
 * Where the NFCC is: `powered` (port open, no CORE_RESET yet), `reset` (waiting for CORE_INIT),
 * `idle` (initialised, RF idle), `discovering` (listening for a reader), `active` (a reader
 * activated ISO-DEP), `closed` (close() was called), `gone` (the port went away).
 */
export type ControllerState = 'powered' | 'reset' | 'idle' | 'discovering' | 'active' | 'closed' | 'gone';

export type NciSimulatorErrorCode = 'NOT_LISTENING' | 'NOT_ACTIVE' | 'BUSY' | 'TIMEOUT' | 'DEACTIVATED' | 'RESET' | 'VIOLATION' | 'GONE';

export class NciSimulatorError extends Error {
  constructor(
    readonly code: NciSimulatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NciSimulatorError';
  }
}

export interface SimulatedNciControllerOptions {
  /** The serial port (one end of a pty pair). */
  path: string;
  /** The NCI version the NFCC claims and speaks (default 2.0; the DH must tolerate 1.0). */
  nciVersion?: NciVersion;
  /** Max control packet payload announced in CORE_INIT_RSP (default 255). */
  maxControlPayload?: number;
  /** Max data packet payload of the RF connection, announced in RF_INTF_ACTIVATED_NTF (default 255). */
  maxDataPayload?: number;
  /** Credits the DH gets with each activation (default 1, as NXP controllers give). */
  initialCredits?: number;
  /** Segment size of the C-APDUs the NFCC forwards to the DH (default: maxDataPayload). */
  forwardSegmentSize?: number;
  /** Pace the line at this baud rate in both directions (10 bits a byte); undefined: no pacing. */
  baudRate?: number;
  /** How long the reader waits for an R-APDU before it gives up and drops the field (default 5 s). */
  responseTimeoutMs?: number;
  /** The pty pair the port belongs to: vanish() kills it, as pulling the USB cable would. */
  pty?: PtyPair;
  log?: (line: string) => void;
  /** Every packet on the line, both ways ('>' NFCC to DH, '<' DH to NFCC), for debugging. */
  trace?: (direction: '>' | '<', hex: string) => void;
}

export interface Activation {
  /** Counts activations since the simulator opened, from 1. */
  number: number;
  /** SENSB_RES as the reader received it: 50 | PUPI(4) | Application Data(4) | Protocol Info(3). */
  atqb: Uint8Array;
  /** The first byte of the ATTRIB answer: MBLI (high nibble) | CID (low nibble). */
  attribResponse: number;
}

export type DeactivationReason = 'link-loss' | 'endpoint';

export interface ControllerEvents {
  state: [state: ControllerState];
  violation: [message: string];
  command: [name: string];
  activated: [activation: Activation];
  deactivated: [reason: string];
}

/** The states in which the NFCC has been initialised (CORE_INIT done). */
export function isInitialised(state: ControllerState): boolean {
  return state === 'idle' || state === 'discovering' || state === 'active';
}

/** The states after the port closed or went away. */
export function isGone(state: ControllerState): state is 'closed' | 'gone' {
  return state === 'closed' || state === 'gone';
}
