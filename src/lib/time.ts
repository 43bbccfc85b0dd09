const ISO_PARTS = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?/;

/**
 * The instant an ISO 8601 timestamp names, or null when it names none. `Date.parse` rolls
 * impossible dates over (`2026-02-30` becomes March 2), which would store a day the caller never
 * sent; here every field must survive the round trip through the calendar.
 */
export function parseTimestamp(value: string): number | null {
  const parts = ISO_PARTS.exec(value);
  const t = Date.parse(value);
  if (!parts || Number.isNaN(t)) return null;
  const [year, month, day, hour = "0", minute = "0", second = "0"] = parts.slice(1).map((p) => p ?? "0");
  const utc = new Date(
    Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)),
  );
  const same =
    utc.getUTCFullYear() === Number(year) &&
    utc.getUTCMonth() === Number(month) - 1 &&
    utc.getUTCDate() === Number(day) &&
    utc.getUTCHours() === Number(hour) &&
    utc.getUTCMinutes() === Number(minute) &&
    utc.getUTCSeconds() === Number(second);
  return same ? t : null;
}

/** The hour of an ISO 8601 time (`2026-12-07T18`): what the projection keeps of visits and activity. */
export function hourOf(time: string): string {
  return time.slice(0, 13);
}
