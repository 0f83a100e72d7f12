/**
 * Session fixation, as a QA team checks its own portal for it: the session cookie the browser holds
 * before the login is what an attacker could have planted (by loading the login page themselves
 * and setting the cookie in the victim's browser); after the login that cookie must be worth
 * nothing. `plantCookie` remembers it, `expectPlantedCookieLoggedOut` checks that the portal gave
 * the session a new cookie and that the old one, used from elsewhere, is not logged in.
 */
import type { CustomStepContext } from 'jpki-hil/steps';

const kSaved = 'plantedCookie';

async function sessionCookie(ctx: CustomStepContext): Promise<{ name: string; value: string } | undefined> {
  const name = String(ctx.args.cookie ?? 'jpki_portal_session');
  const found = (await ctx.page.context().cookies(ctx.baseUrl)).find((c) => c.name === name);
  return found && { name: found.name, value: found.value };
}

export async function plantCookie(ctx: CustomStepContext): Promise<void> {
  const cookie = await sessionCookie(ctx);
  if (!cookie) throw ctx.fail.product(`the page set no session cookie ${String(ctx.args.cookie ?? 'jpki_portal_session')} before the login`);
  ctx.saved[kSaved] = `${cookie.name}=${cookie.value}`;
  ctx.log(`the session cookie before the login is kept, as an attacker who planted it would keep it`);
}

export async function expectPlantedCookieLoggedOut(ctx: CustomStepContext): Promise<void> {
  const planted = ctx.saved[kSaved];
  if (!planted) throw new Error('expectPlantedCookieLoggedOut needs plantCookie before it');
  const now = await sessionCookie(ctx);
  if (now && `${now.name}=${now.value}` === planted) throw ctx.fail.product('the session cookie did not change at the login: a cookie planted before the login is logged in after it (session fixation)');
  const path = String(ctx.args.path ?? '/menu');
  const response = await fetch(new URL(path, ctx.baseUrl), { headers: { cookie: planted }, redirect: 'manual', signal: ctx.signal });
  if (response.status === 200) throw ctx.fail.product(`${path} answers 200 to the cookie from before the login: the planted session is logged in (session fixation)`);
  ctx.log(`${path} with the cookie from before the login: ${response.status} (logged out)`);
}
