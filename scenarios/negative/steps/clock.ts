/**
 * Time passing, for scenarios about what expires: moves the portals' clock (and the IdP's) forward
 * by `with: { minutes }` — as if the person had left the page open that long.
 */
import type { CustomStepContext } from 'jpki-hil/steps';

export function advance(ctx: CustomStepContext): void {
  const minutes = Number(ctx.args.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`with.minutes must be a positive number of minutes, not ${String(ctx.args.minutes)}`);
  ctx.advanceClock(minutes * 60_000);
  ctx.log(`the portals' clock moved ${minutes} minutes forward`);
}
