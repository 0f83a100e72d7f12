/**
 * The typed step API: what every step receives (StepRun) and what a custom step module is given
 * (CustomStepContext). Custom step modules import their types from here.
 */
import type { Page } from 'playwright-core';
import { type Reader } from '../../readers/reader.js';
import type { ScenarioWorld } from '../world.js';

export interface StepRun {
  world: ScenarioWorld;
  /** The scenario file, for paths in custom steps. */
  file: string;
  /** Ends when the step's time is up (or the run is stopped). */
  signal: AbortSignal;
  timeoutMs: number;
  /** Answers operator prompts; undefined when nobody is at a terminal. */
  operator?: ((prompt: string, signal: AbortSignal) => Promise<OperatorAnswer>) | undefined;
  log: (line: string) => void;
}

export type OperatorAnswer = { done: true } | { done: false; note: string };

/** What a custom step (a TypeScript or JavaScript module) receives. */
export interface CustomStepContext {
  page: Page;
  /** The portal's base URL. */
  baseUrl: string;
  /** The scenario's reader (APDUs through it are traced like every other step's). */
  reader: Reader;
  card: { pins: { auth: string; sign: string; kenhojo: string; juki: string } };
  /** Values saved by earlier steps; a custom step may add its own. */
  saved: Record<string, string>;
  args: Record<string, unknown>;
  signal: AbortSignal;
  log: (line: string) => void;
  /**
   * Moves the portals' clock forward (the IdP's too): what expires — SMS and e-mail codes, QR codes,
   * linking transactions, sessions — expires as if the time had passed.
   */
  advanceClock(ms: number): void;
  /**
   * Declares a value the step types or sends as secret (a password, a code): the runner takes it out
   * of the Playwright trace. Returns the value. The card's PINs are secret already.
   */
  secret(value: string): string;
  /** Throw these to say whose fault a failure is (an Error of another kind is taken as the harness's). */
  fail: { product(message: string): Error; lab(message: string): Error };
  /**
   * Another person's card, from the same test CA, in an in-process reader of its own (a card
   * definition name under scenarios/cards/, or a path): the victim of an identity attack, or a
   * namesake when it is the scenario's own definition. Issued once per run and name.
   */
  otherCard(definition: string): Promise<{ reader: Reader; pins: { auth: string; sign: string; kenhojo: string; juki: string } }>;
}

export type CustomStep = (ctx: CustomStepContext) => Promise<void> | void;
