/**
 * What a command handler of the simulated NFCC sees: the command's payload with ways to answer it,
 * and the part of the controller a command may read or change. Handlers are kept in tables keyed
 * by (GID << 8) | OID, one table per group (core-commands.ts, rf-commands.ts).
 */
import type { Activation, ControllerState, NciSimulatorError, NciVersion } from './controller-types.js';

export interface CommandContext {
  readonly payload: Uint8Array;
  respond(bytes: readonly number[] | Uint8Array): Promise<void>;
  /** The command is not allowed in this state: a violation, answered SEMANTIC_ERROR. */
  refuse(why: string): Promise<void>;
}

/** A reader already in the field, waiting for the DH to listen (activateOnNextDiscover). */
export interface ArmedReader {
  resolve(activation: Activation): void;
  reject(error: Error): void;
}

/** What the NFCC is and what the DH told it: the controller's own public fields. */
export interface RecordedSetup {
  readonly nciVersion: NciVersion;
  readonly maxControlPayload: number;
  readonly config: Map<number, Uint8Array>;
  discoverMap: Array<{ protocol: number; mode: number; rfInterface: number }>;
  routing: Array<{ type: number; value: Uint8Array }>;
  discoverConfigs: Array<{ techMode: number; frequency: number }>;
}

export interface SimulatorCore {
  readonly nfcc: RecordedSetup;
  state(): ControllerState;
  setState(state: ControllerState): void;
  log(line: string): void;
  violation(message: string): void;
  notify(op: number, payload: readonly number[]): Promise<void>;
  /** Ends whatever RF session there was: the exchange in progress fails with `error`. */
  endRf(error: NciSimulatorError): void;
  /** Forgets what CORE_SET_CONFIG, RF_DISCOVER_MAP, routing and RF_DISCOVER set. */
  forgetConfiguration(): void;
  /** True when the DH asked for RF_FIELD_INFO_NTF. */
  fieldInfo(): boolean;
  /** Takes the reader armed by activateOnNextDiscover, if any. */
  takeArmed(): ArmedReader | undefined;
  /** A reader in the field activates the card now. */
  activateNow(): Promise<Activation>;
  /** Gathers what goes out until `uncork`, to send it as one burst. */
  cork(): void;
  uncork(): Promise<void>;
}

export type CommandHandler = (sim: SimulatorCore, command: CommandContext) => Promise<void>;

export type CommandTable = ReadonlyMap<number, CommandHandler>;
