/**
 * What of a scenario is secret, and how the runner writes it down: never. Card PINs and the
 * signing password, portal passwords and one-time codes go to the card, the page or an app, but
 * step names, the run log, the reports and the Playwright trace show a fixed marker instead (the
 * card side's APDU masking is iso7816/secret-mask.ts). `${card.pins.auth}` and `${saved.code}`
 * are references, not values, and stay readable: a report may say *which* PIN was entered.
 */
import type { CommandStep, EnterPinStep, FillStep } from './scenario.js';

/** What stands for a secret in step names, logs and traces. Fixed: it does not even give away the length. */
export const kSecretMarker = '********';

/** A fill whose input takes a password, PIN or code: named so, or filled from a card PIN. */
const kSecretField = /pass(word|code|phrase)?|pin|secret|otp|code|token/i;

export function isSecretFill(step: FillStep): boolean {
  if (step.secret !== undefined) return step.secret;
  return kSecretField.test(step.testId) || /\$\{\s*card\.pins\./.test(step.value);
}

/** A value as a report may show it: its `${…}` references as written, anything literal masked. */
export function maskedValue(value: string): string {
  const literal = value.replace(/\$\{[^}]*\}/g, '');
  return literal.trim() === '' ? value : kSecretMarker;
}

export function fillName(step: FillStep): string {
  return `[${step.testId}] ← ${isSecretFill(step) ? maskedValue(step.value) : step.value}`;
}

export function enterPinName(step: EnterPinStep): string {
  return `${step.pin} PIN ${maskedValue(step.value)}`;
}

/** Options whose next argument (or `=value`) is a PIN or password: pkcs11-tool, opensc-tool, the jpki-hil CLI. */
const kSecretOption = /^--?([a-z-]*-)?(pin|puk|password|passwd|pass|secret)$/i;

/** A command line as a report shows it: the values of --pin, --so-pin, --password and the like masked. */
export function maskCommandLine(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const eq = /^(--?[A-Za-z-]+)=(.*)$/.exec(arg);
    if (eq && kSecretOption.test(eq[1]!)) return `${eq[1]}=${maskedValue(eq[2]!)}`;
    const previous = i > 0 ? args[i - 1]! : '';
    return kSecretOption.test(previous) ? maskedValue(arg) : arg;
  });
}

export function commandName(step: CommandStep): string {
  return maskCommandLine(step.run).join(' ');
}
