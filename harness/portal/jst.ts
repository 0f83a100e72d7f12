/**
 * Dates as the portal shows them: Japan Standard Time (UTC+9, no daylight saving), written the way
 * the Mynaportal guide writes them on the main menu ("2017年10月2日 18:00", "2020年10月10日").
 * Computed by offset rather than through Intl so that the output does not depend on the ICU data
 * or the time zone of the machine running the harness.
 */

const kJstOffsetMs = 9 * 3_600_000;

function jstParts(at: Date): { year: number; month: number; day: number; hour: number; minute: number } {
  if (Number.isNaN(at.getTime())) throw new RangeError('cannot format an invalid date');
  const shifted = new Date(at.getTime() + kJstOffsetMs);
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
  };
}

/** 'YYYY年M月D日' in JST. */
export function formatJstDate(at: Date): string {
  const p = jstParts(at);
  return `${p.year}年${p.month}月${p.day}日`;
}

/** 'YYYY年M月D日 HH:mm' in JST. */
export function formatJstDateTime(at: Date): string {
  const p = jstParts(at);
  return `${formatJstDate(at)} ${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
}
