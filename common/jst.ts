/**
 * Japan Standard Time: UTC+9 all year, no daylight saving. Computed by offset rather than through
 * Intl so that the result does not depend on the ICU data or the time zone of the machine. The card's
 * dates (birthdays, certificate ends), the portals' pages and the runner's clock all use this module.
 */

/** UTC+9 in milliseconds. */
export const kJstOffsetMs = 9 * 3_600_000;

/** The same instant shifted so that its UTC fields read as the JST wall clock. */
export function jstWallClock(at: Date): Date {
  if (Number.isNaN(at.getTime())) throw new RangeError('cannot use an invalid date');
  return new Date(at.getTime() + kJstOffsetMs);
}

/** The JST calendar date, 'YYYY-MM-DD'. */
export function jstIsoDate(at: Date): string {
  return jstWallClock(at).toISOString().slice(0, 10);
}

/** The instant at which a JST calendar day ('YYYY-MM-DD') starts. */
export function startOfJstDay(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00+09:00`));
}

/** 23:59:59 JST of a calendar day ('YYYY-MM-DD'), as an instant. */
export function endOfJstDay(date: string): Date {
  return new Date(Date.parse(`${date}T23:59:59+09:00`));
}

/** 'YYYY年M月D日' in JST, the way the Mynaportal guide writes dates. */
export function formatJstDate(at: Date): string {
  const wall = jstWallClock(at);
  return `${wall.getUTCFullYear()}年${wall.getUTCMonth() + 1}月${wall.getUTCDate()}日`;
}

/** 'YYYY年M月D日 HH:mm' in JST. */
export function formatJstDateTime(at: Date): string {
  const wall = jstWallClock(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${formatJstDate(at)} ${two(wall.getUTCHours())}:${two(wall.getUTCMinutes())}`;
}
