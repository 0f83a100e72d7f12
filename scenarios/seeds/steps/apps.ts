/**
 * The phone-alone hand-offs, as custom steps: the person uses the portal on the phone itself and
 * taps the button that opens the app (「アプリを開く」, 「ポケットサインアプリで開く」, 「マイナサイン
 * アプリを起動する」) instead of reading a QR code off a PC screen. Each step takes the link from the
 * button's href — what the phone's browser hands to the app — and runs the same simulated app the
 * runner's phone steps use, over the scenario's reader.
 *
 *   signWithDeepLink   AP-02 「署名アプリ」を開く → the signing app (TASKポータル / マイナサイン)
 *   authAppDeepLink    the IdP's 「アプリを開く」 → the auth app (ポケットサイン / デジタル認証アプリ)
 *   xidAppDeepLink     My Page's 「アプリを開く」 → the xID-like app
 *
 * A failure the app reports (a PhoneError) is the product's, unless `with: { expectError: CODE }`
 * names it; then only that code passes.
 */
import { AuthApp, PhoneError, SigningApp, XidApp, type CustomStepContext } from 'jpki-hil/steps';

/** The href of the element with `testId`, once the page has put a real link there. */
async function linkOf(ctx: CustomStepContext, testId: string, pattern: RegExp): Promise<string> {
  const element = ctx.page.getByTestId(testId).first();
  let href: string | null = null;
  for (;;) {
    if ((await element.count()) > 0 && (await element.isVisible().catch(() => false))) {
      href = await element.getAttribute('href', { timeout: 1000 }).catch(() => null);
      if (href && pattern.test(href)) {
        ctx.log(`the phone opens ${href}`);
        return href;
      }
    }
    if (ctx.signal.aborted) throw ctx.fail.product(`no visible [${testId}] with a link like ${pattern} at ${ctx.page.url()} (href: ${href ?? 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function expectOutcome(ctx: CustomStepContext, what: string, action: () => Promise<unknown>): Promise<void> {
  const expected = typeof ctx.args.expectError === 'string' ? ctx.args.expectError : undefined;
  try {
    await action();
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    const tries = e.triesLeft !== undefined ? ` (${e.triesLeft} tries left)` : '';
    if (expected === e.code) {
      ctx.log(`${what} failed as expected: ${e.code}${tries}`);
      return;
    }
    throw ctx.fail.product(`${what} failed with ${e.code}${tries}${expected ? `, expected ${expected}` : ''}: ${e.message}`);
  }
  if (expected) throw ctx.fail.product(`expected ${what} to fail with ${expected}, but it succeeded`);
}

/** AP-02's 「署名アプリ」を開く: review (申請先, 申請名, 申請日), consent and sign with the password. */
export async function signWithDeepLink(ctx: CustomStepContext): Promise<void> {
  const link = await linkOf(ctx, 'sign-deeplink', /^jpkihil-sign:\/\/sign\?/);
  const app = new SigningApp({ reader: ctx.reader, name: 'simulated phone (signing app, deep link)', log: ctx.log });
  app.openDeepLink(link);
  await expectOutcome(ctx, 'signing on the phone', async () => {
    const summary = await app.review();
    ctx.log(`以下の申請に署名します: 申請先 ${summary.recipient} / 申請名 ${summary.title} / 申請日 ${summary.appliedOn}`);
    for (const key of ['recipient', 'title'] as const) {
      const wanted = ctx.args[key];
      if (typeof wanted === 'string' && summary[key] !== wanted) throw ctx.fail.product(`the signing app shows ${key} "${summary[key]}", expected "${wanted}"`);
    }
    await app.consentAndSign(typeof ctx.args.password === 'string' ? ctx.args.password : ctx.card.pins.sign);
  });
}

/** The IdP's 「アプリを開く」: the auth app signs the challenge (and reads the basic 4 the first time). */
export async function authAppDeepLink(ctx: CustomStepContext): Promise<void> {
  const link = await linkOf(ctx, 'deep-link', /\/app\/auth\?/);
  const pin = typeof ctx.args.pin === 'string' ? ctx.args.pin : ctx.card.pins.auth;
  const app = new AuthApp({ reader: ctx.reader, pins: { auth: pin, kenhojo: ctx.card.pins.kenhojo }, name: 'simulated phone (auth app, deep link)', log: ctx.log });
  await expectOutcome(ctx, 'the auth app', async () => {
    const result = await app.open(link);
    ctx.log(`the auth app authenticated for ${result.client}${result.readCardInfo ? ' and read the basic 4' : ''}`);
  });
}

/** My Page's 「アプリを開く」: the xID-like app (first use: sets its app PIN) links the card. */
export async function xidAppDeepLink(ctx: CustomStepContext): Promise<void> {
  const link = await linkOf(ctx, 'open-app', /\/xid\/link\?/);
  const pin = typeof ctx.args.pin === 'string' ? ctx.args.pin : ctx.card.pins.auth;
  const app = new XidApp({ reader: ctx.reader, cardPins: { auth: pin, kenhojo: ctx.card.pins.kenhojo }, name: 'simulated phone (xID app, deep link)' });
  await expectOutcome(ctx, 'the xID app', async () => {
    const result = await app.link(link, typeof ctx.args.appPin === 'string' ? ctx.args.appPin : '2580');
    ctx.log(`the xID app linked the card of ${result.name}${result.firstUse ? ' (first use: app PIN set)' : ''}`);
  });
}
