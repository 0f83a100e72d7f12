/**
 * Page helpers for scenarios, as custom steps. The city portal (Nobeoka-like) writes its inputs with
 * <label>s but without data-testid, so the built-in `fill` (by test id) cannot reach them: these
 * steps fill by label. `expectCode` checks the stable error code a page puts in `data-code`, which
 * does not change when the Japanese wording does.
 *
 *   - custom: { module: ../seeds/steps/page.ts, export: fillByLabel, with: { fields: { 携帯電話番号: '08012345678' } } }
 *   - custom: { module: ../seeds/steps/page.ts, export: expectCode, with: { testId: error, code: CODE_WRONG } }
 */
import type { CustomStepContext } from 'jpki-hil/steps';

/** Types each value into the input whose label contains the key (the first such input). */
export async function fillByLabel(ctx: CustomStepContext): Promise<void> {
  const fields = ctx.args.fields;
  if (!fields || typeof fields !== 'object') throw new Error('fillByLabel needs with: { fields: { <label>: <value>, … } }');
  for (const [label, value] of Object.entries(fields as Record<string, unknown>)) {
    const input = ctx.page.getByLabel(label, { exact: false }).first();
    try {
      await input.fill(String(value));
    } catch (e) {
      throw ctx.fail.product(`no input labelled "${label}" could be filled at ${ctx.page.url()}: ${(e as Error).message.split('\n', 1)[0]}`);
    }
  }
}

/** Waits until the element with `testId` shows the error `code` in its data-code attribute. */
export async function expectCode(ctx: CustomStepContext): Promise<void> {
  const testId = String(ctx.args.testId ?? 'error');
  const code = String(ctx.args.code ?? '');
  if (code === '') throw new Error('expectCode needs with: { code: <ERROR_CODE> } (and testId, default "error")');
  const element = ctx.page.getByTestId(testId).first();
  let seen: string | null = null;
  for (;;) {
    if ((await element.count()) > 0) {
      seen = await element.getAttribute('data-code', { timeout: 1000 }).catch(() => null);
      if (seen === code) {
        ctx.log(`[${testId}] ${code}: ${((await element.textContent().catch(() => '')) ?? '').trim()}`);
        return;
      }
    }
    if (ctx.signal.aborted) {
      const text = ((await element.textContent({ timeout: 500 }).catch(() => null)) ?? '').trim();
      throw ctx.fail.product(
        seen ? `[${testId}] shows the code ${seen} ("${text}"), expected ${code}` : `no [${testId}] with a code on the page at ${ctx.page.url()}, expected ${code}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the input with `testId` holds `value` (expectText reads text, and an input's value is not text). */
export async function expectValue(ctx: CustomStepContext): Promise<void> {
  const testId = String(ctx.args.testId ?? '');
  const value = String(ctx.args.value ?? '');
  if (testId === '') throw new Error('expectValue needs with: { testId, value }');
  const input = ctx.page.getByTestId(testId).first();
  let seen: string | undefined;
  for (;;) {
    if ((await input.count()) > 0) {
      seen = await input.inputValue({ timeout: 1000 }).catch(() => undefined);
      if (seen === value) return;
    }
    if (ctx.signal.aborted) throw ctx.fail.product(seen === undefined ? `no input [${testId}] at ${ctx.page.url()}` : `[${testId}] holds "${seen}", expected "${value}"`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Checks that the element with `testId` is disabled (with: { disabled: false }, that it is enabled). */
export async function expectDisabled(ctx: CustomStepContext): Promise<void> {
  const testId = String(ctx.args.testId ?? '');
  const wanted = ctx.args.disabled !== false;
  const element = ctx.page.getByTestId(testId).first();
  let seen: boolean | undefined;
  for (;;) {
    if ((await element.count()) > 0) {
      seen = await element.isDisabled({ timeout: 1000 }).catch(() => undefined);
      if (seen === wanted) return;
    }
    if (ctx.signal.aborted) throw ctx.fail.product(seen === undefined ? `no [${testId}] at ${ctx.page.url()}` : `[${testId}] is ${seen ? 'disabled' : 'enabled'}, expected ${wanted ? 'disabled' : 'enabled'}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
