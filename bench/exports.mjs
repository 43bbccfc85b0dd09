// `npm run bench:exports`: the daily push_events export of one app with BENCH_EXPORT_ROWS events
// (default 1,000,000), run locally in workerd through the admin job, exactly as the cron runs it.
// Staged events are written straight into local R2 (24 objects, spread over the day's 24 hours,
// or all in its first hour with BENCH_EXPORT_HOURS=1) and their profiles into local D1, then the
// job runs; reports rows per second from the job's start to the file being listed, the peak
// JavaScript heap of the Worker's isolate (what the 128 MB limit bounds: sampled every 50 ms,
// each sample right after a full collection) and the resident memory of its workerd process
// (which also holds the local R2/D1 simulators). Writes bench/exports-results-{hours}h.json. It
// reports; it never fails on a number.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { heapSampler } from "./inspector.mjs";
import { sleep } from "./lib/load.mjs";
import { d1, migrate, startDev, wrangler } from "./lib/wrangler.mjs";
import { memoryOf } from "./workerd.mjs";

const ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 1_000_000);
/** The hours the day's events fall in: 24 (one object each) or 1 (all 24 objects in hour 0). */
const HOURS = Number(process.env.BENCH_EXPORT_HOURS ?? 24);
const resultsFile = (hours) => `bench/exports-results-${hours}h.json`;
const PROFILES = 1000;
const PORT = 8798;
const ADMIN = "bench-admin-token";
const STATE = ".wrangler/bench-exports";
const TMP = `${STATE}-objects`;

async function api(method, path, body, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${PORT}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const uuid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

async function main() {
  rmSync(STATE, { recursive: true, force: true });
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  migrate(STATE);
  const server = await startDev(["--var", `ADMIN_TOKEN:${ADMIN}`], { port: PORT, state: STATE, probe: "/health" });
  const log = server.log;

  const admin = { Authorization: `Bearer ${ADMIN}` };
  const project = await api("POST", "/v1/admin/projects", { name: "bench" }, admin);
  const app = await api("POST", `/v1/admin/projects/${project.project_id}/apps`, { name: "a", platform: "ios" }, admin);
  const rest = { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id };
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

  // Live profiles in the projection, one installation each.
  d1(
    STATE,
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <= ${PROFILES})
     INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
       SELECT '${project.project_id}', printf('00000000-0000-4000-9000-%012d', i), printf('user-%d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z' FROM n;`,
  );

  // Staged events: one object an hour, as the event consumer writes them.
  const seedStart = performance.now();
  let seeded = 0;
  for (let part = 0; part < 24; part++) {
    const count = Math.floor(ROWS / 24) + (part < ROWS % 24 ? 1 : 0);
    const hour = part % HOURS;
    const lines = [];
    for (let k = 0; k < count; k++) {
      const who = ((k * 7919) % PROFILES) + 1;
      // In one hour, the 24 objects interleave: each covers the whole hour.
      const ms = Math.floor((k / count) * 3_600_000) + (HOURS === 1 ? part : 0);
      const time = new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * 3_600_000 + ms).toISOString();
      lines.push(
        JSON.stringify({
          time,
          installation_id: uuid(who),
          profile_id: `00000000-0000-4000-9000-${String(who).padStart(12, "0")}`,
          custom_id: `user-${who}`,
          app_id: app.app_id,
          id: `e-${part}-${k}`,
          name: k % 3 ? "push_opened" : "push_sent",
          attributes: { campaign_token: `campaign-${k % 101}` },
          label: null,
          tags: [],
          source: "sdk",
          received_at: time,
        }),
      );
    }
    const file = `${TMP}/${part}.ndjson`;
    writeFileSync(file, `${lines.join("\n")}\n`);
    const key = `edge-cdp-exports/events/${project.project_id}/${app.app_id}/${day}/${String(hour).padStart(2, "0")}/seed-${part}.ndjson`;
    wrangler(["r2", "object", "put", key, "--local", "--persist-to", STATE, "--file", file]);
    seeded += count;
  }
  const seedMs = Math.round(performance.now() - seedStart);
  const memoryBefore = memoryOf(server.pid);
  const heap = await heapSampler(PORT + 1000, { everyMs: 50, collectEvery: 1 });
  const heapBefore = await heap.now();

  globalThis.serverLog = log;
  // Writing local state from outside makes `wrangler dev` reload once: let it settle first.
  await sleep(5000);
  await fetch(`http://127.0.0.1:${PORT}/health`);
  const start = performance.now();
  const { request_id } = await api("POST", "/v1/admin/jobs/daily_exports", { date: day }, admin);
  let file = null;
  let peak = memoryBefore.peak_mib;
  while (!file) {
    await sleep(250);
    peak = Math.max(peak, memoryOf(server.pid).peak_mib);
    const { files } = await api("GET", `/v1/exports?type=push_events&date=${day}`, undefined, rest);
    file = files[0] ?? null;
    if (performance.now() - start > 30 * 60_000) throw new Error(`no file after 30 minutes:\n${log().slice(-3000)}`);
  }
  const ms = performance.now() - start;
  heap.stop();
  const memoryAfter = memoryOf(server.pid);
  const results = {
    run_at: new Date().toISOString(),
    job: request_id,
    hours: HOURS,
    rows: file.rows,
    staged: seeded,
    bytes: file.bytes,
    seed_ms: seedMs,
    export_ms: Math.round(ms),
    rows_per_s: Math.round(file.rows / (ms / 1000)),
    mib_per_s: +(file.bytes / 1048576 / (ms / 1000)).toFixed(1),
    worker_heap_mib: { before: heapBefore, peak: heap.peak(), live_peak: heap.livePeak() },
    workerd_process_memory_before: memoryBefore,
    workerd_process_memory_after: { ...memoryAfter, peak_mib: Math.max(peak, memoryAfter.peak_mib) },
  };
  writeFileSync(resultsFile(HOURS), `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  rmSync(TMP, { recursive: true, force: true });
  process.exit(0);
}

main().catch((error) => {
  console.error(globalThis.serverLog?.().slice(-4000) ?? "");
  console.error(error);
  process.exit(1);
});
