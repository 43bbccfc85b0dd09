// The daily push_events export of BENCH_EXPORT_ROWS events (default 1,000,000), through
// bench/exports.mjs: it runs in a `wrangler dev` of its own (its own port and local state), so
// seeding a million staged events into local R2 never makes the Worker under test reload. Reports
// rows per second and the peak JavaScript heap of the exporting Worker's isolate, the figure
// Cloudflare's 128 MB limit applies to.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { target } from "../lib/report.mjs";

/** Well under the 128 MB an isolate may use, whatever the file's size. */
const HEAP_TARGET_MIB = 64;

export async function run() {
  await promisify(execFile)(process.execPath, ["bench/exports.mjs"], {
    env: process.env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 45 * 60_000,
  });
  const r = JSON.parse(readFileSync("bench/exports-results.json", "utf8"));
  return {
    figures: [
      {
        figure: `daily push_events export, ${r.rows.toLocaleString("en")} rows (${(r.bytes / 1048576).toFixed(1)} MiB)`,
        export_ms: r.export_ms,
        rows_per_s: r.rows_per_s,
        worker_heap_peak_mib: r.worker_heap_mib.peak,
        worker_heap_live_peak_mib: r.worker_heap_mib.live_peak,
        worker_heap_before_mib: r.worker_heap_mib.before,
        seed_ms: r.seed_ms,
      },
    ],
    targets: {
      export_worker_live_heap_mib: target(r.worker_heap_mib.live_peak, "<=", HEAP_TARGET_MIB, " MiB"),
    },
  };
}
