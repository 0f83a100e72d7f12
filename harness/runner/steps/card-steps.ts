/**
 * Card steps: PINs typed at a terminal, the card's PIN state, and taking the card out or tearing
 * an exchange — all through the scenario's reader, so every APDU is traced.
 */
import { pinLimitOf } from '../../fixtures/cards.js';
import { CardCommandError, JpkiClient, kAids, PinError, type CardPin } from '../../jpki/jpki-client.js';
import { productDefect } from '../failures.js';
import type { ScenarioPin } from '../scenario.js';
import type { ScenarioWorld } from '../world.js';

/** What the card steps use of a scenario's world: its card slot and the card's definition. */
export type CardWorld = Pick<ScenarioWorld, 'slot' | 'definition'>;

export const kClientPin: Record<ScenarioPin, CardPin> = { auth: 'auth', sign: 'sign', kenhojo: 'kenhojo' };

/** `direct`: the harness's own look at the card, past any device profile. */
export async function withCard<T>(world: CardWorld, use: (client: JpkiClient) => Promise<T>, direct = false): Promise<T> {
  const connection = await (direct ? world.slot.checks : world.slot.reader).connect();
  try {
    return await use(new JpkiClient(connection));
  } finally {
    await connection.disconnect('reset').catch(() => undefined);
  }
}

/** A PIN typed at a terminal: VERIFY on the card, right or wrong; returns the tries it leaves. */
export async function enterPin(world: CardWorld, pin: ScenarioPin, value: string, expectTriesLeft: number | undefined): Promise<number> {
  const left = await withCard(world, async (client) => {
    try {
      await client.verifyPin(kClientPin[pin], value);
      return pinLimitOf(world.definition, pin);
    } catch (e) {
      if (e instanceof PinError) return e.triesLeft;
      throw e;
    }
  });
  if (expectTriesLeft !== undefined && left !== expectTriesLeft) {
    throw productDefect(`after entering the ${pin} PIN the card has ${left} tries left, expected ${expectTriesLeft}`);
  }
  return left;
}

/** The 住基 AP's PIN EF (the JPKI client knows only the JPKI and card-info PINs). */
export const kJukiPinEf = 0x001c;

export async function pinState(client: JpkiClient, pin: ScenarioPin | 'juki'): Promise<{ triesLeft: number | undefined; blocked: boolean }> {
  try {
    if (pin === 'juki') {
      await client.selectAp(kAids.juki);
      await client.selectEf(kJukiPinEf);
      const { sw } = await client.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80 }, 'PIN status juki', [0x9000, ...Array.from({ length: 16 }, (_, i) => 0x63c0 + i)]);
      return sw === 0x9000 ? { triesLeft: undefined, blocked: false } : { triesLeft: sw & 0x0f, blocked: (sw & 0x0f) === 0 };
    }
    const left = await client.pinTriesLeft(kClientPin[pin]);
    return left < 0 ? { triesLeft: undefined, blocked: false } : { triesLeft: left, blocked: left === 0 };
  } catch (e) {
    if (e instanceof CardCommandError && (e.sw === 0x6983 || e.sw === 0x6984)) return { triesLeft: 0, blocked: true };
    throw e;
  }
}

export async function expectCard(world: CardWorld, pin: ScenarioPin | 'juki', triesLeft: number | undefined, blocked: boolean | undefined): Promise<void> {
  const state = await withCard(world, (client) => pinState(client, pin), true);
  const problems: string[] = [];
  if (triesLeft !== undefined && state.triesLeft !== triesLeft) problems.push(`${state.triesLeft === undefined ? 'no count (the PIN is verified)' : `${state.triesLeft} tries left`} instead of ${triesLeft}`);
  if (blocked !== undefined && state.blocked !== blocked) problems.push(state.blocked ? 'it is blocked' : 'it is not blocked');
  if (problems.length > 0) throw productDefect(`the card's ${pin} PIN: ${problems.join('; ')}`);
}

export async function cardAction(world: CardWorld, action: 'remove' | 'insert' | 'tear', ins: string | undefined, when: 'before' | 'after'): Promise<void> {
  const slot = world.slot;
  if (action === 'insert') {
    await slot.insert();
    slot.removedOnPurpose = false;
    return;
  }
  slot.removedOnPurpose = true;
  if (action === 'remove' || ins === undefined) {
    await slot.remove();
    return;
  }
  slot.reader.armTear({ ins: parseInt(ins, 16), when });
}
