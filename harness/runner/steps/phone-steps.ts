/**
 * Phone steps: the simulated phone apps read the QR code on the page and log in or sign with the
 * scenario's card.
 */
import { AuthApp } from '../../agents/phone/auth-app.js';
import { PhoneError } from '../../agents/phone/phone-http.js';
import { SigningApp } from '../../agents/phone/signing-app.js';
import { SimulatedPhone } from '../../agents/phone/simulated-phone.js';
import { harnessDefect, productDefect } from '../failures.js';
import type { ScenarioWorld } from '../world.js';
import type { StepRun } from './step-api.js';
import { sleep } from './step-util.js';

export const kQrTestIds = ['qr-code', 'sign-qr', 'qr'];

/** Screenshots the page with the QR code in view and decodes it, as a phone camera would. */
export async function scanQr(world: ScenarioWorld, run: StepRun): Promise<string> {
  const page = world.page;
  const reader = new SimulatedPhone({ reader: world.slot.reader, pins: { auth: '' }, name: 'simulated phone' });
  let lastError: unknown;
  for (;;) {
    for (const id of kQrTestIds) {
      const qr = page.getByTestId(id).first();
      if ((await qr.count()) === 0 || !(await qr.isVisible().catch(() => false))) continue;
      const loaded = await qr
        .evaluate((el) => {
          const img = el as unknown as { tagName: string; complete?: boolean; naturalWidth?: number };
          return img.tagName !== 'IMG' || (img.complete === true && (img.naturalWidth ?? 0) > 0);
        })
        .catch(() => false);
      if (!loaded) continue;
      await qr.scrollIntoViewIfNeeded({ timeout: 2000 }).catch(() => undefined);
      try {
        return reader.scanQr(await page.screenshot());
      } catch (e) {
        lastError = e;
      }
    }
    if (run.signal.aborted) {
      if (lastError instanceof PhoneError) throw productDefect(`the phone could not read a QR code: ${lastError.message}`);
      throw productDefect(`no QR code (data-testid ${kQrTestIds.join(', ')}) is on the page at ${page.url()}`);
    }
    await sleep(100, run.signal);
  }
}

export function lastQr(world: ScenarioWorld, what: string): string {
  if (!world.lastQr) throw harnessDefect(`${what} needs a QR code or link: put a phoneScanQr step before it`);
  return world.lastQr;
}

export async function phoneLogin(world: ScenarioWorld, pin: string | undefined, appPin: string | undefined): Promise<void> {
  const link = lastQr(world, 'phoneLogin');
  const pins = { auth: pin ?? world.definition.pins.auth, kenhojo: world.definition.pins.kenhojo };
  const path = new URL(link).pathname;
  if (path.endsWith('/m/qr-login')) {
    await new SimulatedPhone({ reader: world.slot.reader, pins, name: 'simulated phone' }).loginWithQr(link);
  } else if (path.endsWith('/app/auth')) {
    await new AuthApp({ reader: world.slot.reader, pins, name: 'simulated phone (auth app)' }).open(link);
  } else if (path.endsWith('/xid/link')) {
    await world.xidApp(pins).link(link, appPin ?? kDefaultAppPin);
  } else {
    throw productDefect(`the QR code holds ${link}, which no phone app here opens (QR login, auth app or xID link)`);
  }
}

/** The xID-like app's PIN when a scenario does not choose one: valid by its rules (not a run, not one digit). */
export const kDefaultAppPin = '2580';

export async function phoneSign(world: ScenarioWorld, password: string | undefined, consent: boolean): Promise<void> {
  const link = lastQr(world, 'phoneSign');
  const app = new SigningApp({ reader: world.slot.reader, name: 'simulated phone (signing app)' });
  try {
    app.openDeepLink(link);
  } catch (e) {
    throw productDefect(`the QR code is not a signing request: ${(e as Error).message}`);
  }
  await app.review();
  if (!consent) return;
  await app.consentAndSign(password ?? world.definition.pins.sign);
}

/** Runs a phone action that should succeed, or (with `expectError`) fail with exactly that code. */
export async function expectPhoneOutcome(action: () => Promise<void>, expectError: string | undefined, what: string): Promise<void> {
  try {
    await action();
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    const tries = e.triesLeft !== undefined ? ` (${e.triesLeft} tries left)` : '';
    if (expectError === e.code) return;
    if (expectError) throw productDefect(`expected ${what} to fail with ${expectError}, but it failed with ${e.code}${tries}: ${e.message}`, e);
    throw e;
  }
  if (expectError) throw productDefect(`expected ${what} to fail with ${expectError}, but it succeeded`);
}
