// Cloudflare Workers Paid list prices, in US dollars per billable unit, beyond each plan's
// included monthly usage (the included usage is left out: these are marginal costs).
// Read on 2026-11-29 from Cloudflare's pricing pages, as stored in cloudflare/cloudflare-docs:
//   Workers      https://developers.cloudflare.com/workers/platform/pricing/ (Standard usage model)
//   Durable Obj. https://developers.cloudflare.com/durable-objects/platform/pricing/ (SQLite backend)
//   D1           https://developers.cloudflare.com/d1/platform/pricing/ (same row rates as DO SQLite)
//   Queues       https://developers.cloudflare.com/queues/platform/pricing/
//   R2           https://developers.cloudflare.com/r2/pricing/ (Standard storage)
export const PRICES_READ_ON = "2026-11-29";

const perMillion = (dollars) => dollars / 1_000_000;

/** Dollars per unit of each meter counter. */
export const PRICES = {
  // $0.30 per million requests. Queue consumer and Cron Trigger invocations are priced as
  // requests too (they are invocations of the Worker; an assumption, see the README).
  worker_requests: perMillion(0.3),
  queue_batches: perMillion(0.3),
  cron_invocations: perMillion(0.3),
  // $0.15 per million requests: each RPC call on a stub, each fetch, each alarm.
  do_requests: perMillion(0.15),
  // SQLite-backed objects: $0.001 per million rows read, $1.00 per million rows written.
  do_rows_read: perMillion(0.001),
  do_rows_written: perMillion(1.0),
  // Each setAlarm() is billed as one row written.
  do_alarms_set: perMillion(1.0),
  // Queues: $0.40 per million operations; a message under 64 KB is a write, a read and a
  // delete, so three operations.
  queue_messages: 3 * perMillion(0.4),
  // D1: $0.001 per million rows read, $1.00 per million rows written. Queries are not billed.
  d1_queries: 0,
  // The meter's count of D1 statements whose rows it cannot see (exec()); not a billed unit.
  d1_queries_without_meta: 0,
  d1_rows_read: perMillion(0.001),
  d1_rows_written: perMillion(1.0),
  // R2 Standard: Class A $4.50 per million, Class B $0.36 per million.
  r2_class_a: perMillion(4.5),
  r2_class_b: perMillion(0.36),
};

/** The prices as a table for the report: unit, list price. */
export const PRICE_NOTES = {
  worker_requests: "$0.30 / million requests",
  queue_batches: "$0.30 / million (a consumer invocation, priced as a request)",
  cron_invocations: "$0.30 / million (priced as a request)",
  do_requests: "$0.15 / million",
  do_rows_read: "$0.001 / million rows",
  do_rows_written: "$1.00 / million rows",
  do_alarms_set: "$1.00 / million (a row written each)",
  queue_messages: "$0.40 / million operations, 3 per message (write, read, delete)",
  d1_queries: "not billed",
  d1_rows_read: "$0.001 / million rows",
  d1_rows_written: "$1.00 / million rows",
  r2_class_a: "$4.50 / million",
  r2_class_b: "$0.36 / million",
};

/** Dollars for the given units; units without a known price are listed in `unpriced`. */
export function priceOf(units) {
  let dollars = 0;
  const unpriced = [];
  for (const [name, n] of Object.entries(units)) {
    if (!n) continue;
    if (name in PRICES) dollars += PRICES[name] * n;
    else unpriced.push(name);
  }
  return { dollars, unpriced };
}
