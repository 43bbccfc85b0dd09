// The daily push_events export of BENCH_EXPORT_ROWS events (default 1,000,000), through
// bench/exports.mjs: it runs in a `wrangler dev` of its own (its own port and local state), so
// seeding a million staged events into local R2 never makes the Worker under test reload. Run
// twice: the day's events spread over its 24 hours, and all of them in one hour (the busiest an
// hour can be: sorted in bounded sub-runs and merged). Reports rows per second and the live peak
// JavaScript heap of the exporting Worker's isolate, the figure Cloudflare's 128 MB limit
// applies to, for each.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { target } from "../lib/report.mjs";

/** Well under the 128 MB an isolate may use, whatever the file's size or its busiest hour. */
const HEAP_TARGET_MIB = 64;

async function exportDay(hours) {
  await promisify(execFile)(process.execPath, ["bench/exports.mjs"], {
    env: { ...process.env, BENCH_EXPORT_HOURS: String(hours) },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 45 * 60_000,
  });
  return JSON.parse(readFileSync(`bench/exports-results-${hours}h.json`, "utf8"));
}

export async function run() {
  const spread = await exportDay(24);
  const oneHour = await exportDay(1);
  const figure = (r, where) => ({
    figure: `daily push_events export, ${r.rows.toLocaleString("en")} rows (${(r.bytes / 1048576).toFixed(1)} MiB), ${where}`,
    export_ms: r.export_ms,
    rows_per_s: r.rows_per_s,
    worker_heap_peak_mib: r.worker_heap_mib.peak,
    worker_heap_live_peak_mib: r.worker_heap_mib.live_peak,
    worker_heap_before_mib: r.worker_heap_mib.before,
    seed_ms: r.seed_ms,
  });
  return {
    figures: [figure(spread, "over 24 hours"), figure(oneHour, "all in one hour")],
    targets: {
      export_worker_live_heap_mib: target(
        Math.max(spread.worker_heap_mib.live_peak, oneHour.worker_heap_mib.live_peak),
        "<=",
        HEAP_TARGET_MIB,
        " MiB",
      ),
    },
  };
}
