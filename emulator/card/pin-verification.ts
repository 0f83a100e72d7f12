/**
 * VERIFY and CHANGE REFERENCE DATA against the PIN counters of the card image. The counter is
 * decremented and committed *before* the comparison, as a real card does, so pulling the card
 * (or killing the process) at any moment never gives back a try.
 */
import { constantTimeEqual, decodeAscii } from '../../iso7816/bytes.js';
import { CardError, SW, wrongPinSw } from '../../iso7816/status-words.js';
import type { CardContext } from './applet.js';
import type { PinId } from './file-system.js';

function blockedSw(ctx: CardContext): number {
  return parseInt(ctx.options.blockedPinSw, 16);
}

function commit(ctx: CardContext): void {
  try {
    ctx.store.commit();
  } catch (e) {
    // The card could not write its EEPROM: refuse rather than compare without a durable counter.
    throw new CardError(SW.MEMORY_FAILURE, (e as Error).message);
  }
}

/** The empty VERIFY: throws 63Cx (tries left) without using a try; returns only when it answers 9000. */
export function pinStatus(ctx: CardContext, pin: PinId): void {
  const state = ctx.store.image.pins[pin];
  if (state.remaining > 0 && ctx.verified.has(pin) && ctx.options.statusQueryWhenVerified === '9000') return;
  throw new CardError(wrongPinSw(state.remaining));
}

export function verifyPin(ctx: CardContext, pin: PinId, candidate: Uint8Array): void {
  const state = ctx.store.image.pins[pin];
  if (state.remaining === 0) {
    ctx.verified.delete(pin);
    throw new CardError(blockedSw(ctx), `PIN ${pin} is blocked`);
  }
  state.remaining -= 1;
  commit(ctx);
  ctx.hooks.beforePinCompare?.(pin);
  const reference = Buffer.from(state.value, 'latin1');
  if (constantTimeEqual(candidate, reference)) {
    state.remaining = state.limit;
    commit(ctx);
    ctx.verified.add(pin);
    return;
  }
  ctx.verified.delete(pin);
  throw new CardError(wrongPinSw(state.remaining));
}

const kPinFormats: Record<PinId, { pattern: RegExp; rule: string }> = {
  auth: { pattern: /^\d{4}$/, rule: '4 digits' },
  sign: { pattern: /^[A-Z0-9]{6,16}$/, rule: '6 to 16 characters A-Z and 0-9' },
  kenhojo: { pattern: /^\d{4}$/, rule: '4 digits' },
  juki: { pattern: /^\d{4}$/, rule: '4 digits' },
  kenhojoA: { pattern: /^\d{12}$/, rule: '12 digits' },
  kenkakuA: { pattern: /^\d{12}$/, rule: '12 digits' },
  kenhojoB: { pattern: /^\d{14}$/, rule: '14 digits' },
  kenkakuB: { pattern: /^\d{14}$/, rule: '14 digits' },
};

/** The rule a new PIN value must follow, for the card and for the CLI's own checks. */
export function pinFormatProblem(pin: PinId, value: string): string | undefined {
  const format = kPinFormats[pin];
  return format.pattern.test(value) ? undefined : `the ${pin} PIN must be ${format.rule}`;
}

/** CHANGE REFERENCE DATA with P1 = 01: new value only, the PIN must be verified in this session. */
export function changePin(ctx: CardContext, pin: PinId, newValue: Uint8Array): void {
  const state = ctx.store.image.pins[pin];
  if (state.remaining === 0) throw new CardError(blockedSw(ctx), `PIN ${pin} is blocked`);
  if (!ctx.verified.has(pin)) throw new CardError(SW.SECURITY_STATUS_NOT_SATISFIED, `verify the ${pin} PIN before changing it`);
  const text = decodeAscii(newValue);
  const problem = pinFormatProblem(pin, text);
  if (problem) throw new CardError(SW.INCORRECT_DATA, problem);
  state.value = text;
  state.remaining = state.limit;
  commit(ctx);
}
