/**
 * Billable units, counted as they are spent, for the benchmark's "units per 1,000 operations".
 * The counters live in module scope: under `wrangler dev` the Worker, its queue consumers and
 * its Durable Objects run in one isolate (docs/decisions.md, "Billable-unit meter"), so one set
 * of counters sees everything a request causes downstream. Nothing here runs unless the Worker
 * var `METER` is "on": with it off, no binding is wrapped and no counter moves.
 */

export const UNITS = [
  "worker_requests",
  "queue_batches",
  "cron_invocations",
  "do_requests",
  "do_rows_read",
  "do_rows_written",
  "do_alarms_set",
  "queue_messages",
  "d1_queries",
  "d1_rows_read",
  "d1_rows_written",
  "d1_queries_without_meta",
  "r2_class_a",
  "r2_class_b",
] as const;

export type Unit = (typeof UNITS)[number];
export type Units = Record<Unit, number>;

const zero = (): Units => Object.fromEntries(UNITS.map((u) => [u, 0])) as Units;

let units = zero();
/** Set on first use: at module scope the runtime's clock still reads 1970. */
let since: Date | null = null;

/** Whether this Worker counts: only with `METER = "on"` (the bench passes `--var METER:on`). */
export function meterOn(env: { METER?: string }): boolean {
  return env.METER === "on";
}

export function count(unit: Unit, n = 1): void {
  since ??= new Date();
  units[unit] += n;
}

/** A copy of the counters and when they were last zeroed. */
export function readMeter(): { units: Units; since: string } {
  since ??= new Date();
  return { units: { ...units }, since: since.toISOString() };
}

export function resetMeter(now = new Date()): void {
  units = zero();
  since = now;
}
