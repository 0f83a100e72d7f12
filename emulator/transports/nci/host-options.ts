/**
 * What the NCI card host is told and what it tells: its options with their defaults, its states
 * and its events.
 */
import type { Activation, NfcTechnology } from './messages.js';

export type NciHostState = 'initialising' | 'listening' | 'active' | 'removed' | 'recovering' | 'stopped';

export interface NciHostOptions {
  /** RF technologies to listen on: NFC-B (the My Number Card's), optionally NFC-A as well. Default ['B']. */
  technologies?: readonly NfcTechnology[];
  /** How long each command waits for its response. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long the line may stay quiet in the middle of a packet before the packet counts as garbage. Default 250 ms. */
  silenceMs?: number;
  /** After how long without credits the host says that an answer is waiting. Default 1000 ms. */
  creditLogMs?: number;
  /** After how long without credits the host gives the answer up. Default 5000 ms. */
  creditTimeoutMs?: number;
  /** Pause before the first retry of a failed initialisation; doubles up to 8 s. Default 500 ms. */
  retryPauseMs?: number;
  /** Consecutive failed initialisations before the host stops with an error. Default 5. */
  maxInitAttempts?: number;
  /** On a garbled stream: reset the controller (default), or only skip to the next plausible packet. */
  onGarbage?: 'reset' | 'resync';
  /** Listen as soon as the controller is initialised (default true); false starts "removed". */
  listen?: boolean;
  /** NFCID0 (the PUPI) the reader sees, 4 bytes; default: random at each initialisation. */
  pupi?: Uint8Array;
  /** NFCID1 for NFC-A, 4 bytes; default: random (first byte 08) at each initialisation. */
  nfcid1?: Uint8Array;
}

export interface NciHostEvents {
  state: [NciHostState];
  log: [string];
  activated: [Activation];
  /** A session ended: why, in words. */
  deactivated: [string];
  /** The controller reported the reader's RF field coming (true) or going (false). */
  field: [boolean];
}

/** The options' timings and policies, every one filled in. */
export interface NciHostTimings {
  commandTimeoutMs: number;
  silenceMs: number;
  creditLogMs: number;
  creditTimeoutMs: number;
  retryPauseMs: number;
  maxInitAttempts: number;
  onGarbage: 'reset' | 'resync';
}

const kDefaults = {
  commandTimeoutMs: 1000,
  silenceMs: 250,
  creditLogMs: 1000,
  creditTimeoutMs: 5000,
  retryPauseMs: 500,
  maxInitAttempts: 5,
};

export function hostTimings(options: NciHostOptions): NciHostTimings {
  return {
    commandTimeoutMs: options.commandTimeoutMs ?? kDefaults.commandTimeoutMs,
    silenceMs: options.silenceMs ?? kDefaults.silenceMs,
    creditLogMs: options.creditLogMs ?? kDefaults.creditLogMs,
    creditTimeoutMs: options.creditTimeoutMs ?? kDefaults.creditTimeoutMs,
    retryPauseMs: options.retryPauseMs ?? kDefaults.retryPauseMs,
    maxInitAttempts: options.maxInitAttempts ?? kDefaults.maxInitAttempts,
    onGarbage: options.onGarbage ?? 'reset',
  };
}

/** The technologies to listen on, NFC-B first; throws when the options ask for what the card cannot be. */
export function listenTechnologies(options: NciHostOptions): readonly NfcTechnology[] {
  const technologies = options.technologies ?? ['B'];
  if (!technologies.includes('B')) throw new RangeError('the NCI host always listens for NFC-B (the My Number Card is a Type B card)');
  if (options.pupi && options.pupi.length !== 4) throw new RangeError('the PUPI (NFCID0) is 4 bytes');
  if (options.nfcid1 && options.nfcid1.length !== 4) throw new RangeError('NFCID1 must be 4 bytes');
  return technologies.includes('A') ? ['B', 'A'] : ['B'];
}
