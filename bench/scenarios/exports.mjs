// The daily push_events export of one app with BENCH_EXPORT_ROWS staged events (default
// 1,000,000), run through the admin job exactly as the cron runs it. Staged events are written
// straight into local R2 (24 hour objects) and their profiles into local D1 (a project of its
// own), then the job runs; reports rows per second from the job's start to the file being
// listed, and the peak resident memory of the Worker's workerd process. Metered.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { sleep } from "../lib/load.mjs";

const PROFILES = 1000;
const uuid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const profileId = (n) => `00000000-0000-4000-9000-${String(n).padStart(12, "0")}`;

export async function run(ctx) {
  const rows = ctx.env.exportRows;
  const tmp = `${ctx.wrangler.state.app}-export-objects`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const project = await ctx.api("POST", "/v1/admin/projects", { name: "bench-exports" }, ctx.admin);
  const app = await ctx.api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: "a", platform: "ios" },
    ctx.admin,
  );
  const rest = { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id };
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

  await ctx.wrangler.d1(
    "app",
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${PROFILES})
     INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
       SELECT '${project.project_id}', printf('00000000-0000-4000-9000-%012d', i), printf('user-%d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z' FROM n;`,
  );
  // Staged events: one object an hour, as the event consumer writes them.
  const seedStart = performance.now();
  for (let hour = 0; hour < 24; hour++) {
    const count = Math.floor(rows / 24) + (hour < rows % 24 ? 1 : 0);
    const lines = [];
    for (let k = 0; k < count; k++) {
      const who = ((k * 7919) % PROFILES) + 1;
      const time = new Date(
        Date.parse(`${day}T00:00:00.000Z`) + hour * 3_600_000 + Math.floor((k / count) * 3_600_000),
      ).toISOString();
      lines.push(
        JSON.stringify({
          time,
          installation_id: uuid(who),
          profile_id: profileId(who),
          custom_id: `user-${who}`,
          app_id: app.app_id,
          id: `e-${hour}-${k}`,
          name: k % 3 ? "push_opened" : "push_sent",
          attributes: { campaign_token: `campaign-${k % 101}` },
          label: null,
          tags: [],
          source: "sdk",
          received_at: time,
        }),
      );
    }
    const file = `${tmp}/${hour}.ndjson`;
    writeFileSync(file, `${lines.join("\n")}\n`);
    const key = `edge-cdp-exports/events/${project.project_id}/${app.app_id}/${day}/${String(hour).padStart(2, "0")}/seed.ndjson`;
    ctx.wrangler.run(["r2", "object", "put", key, "--local", "--persist-to", ctx.wrangler.state.app, "--file", file]);
  }
  const seedMs = Math.round(performance.now() - seedStart);
  rmSync(tmp, { recursive: true, force: true });
  await ctx.wrangler.settle("app");

  const before = ctx.memoryOf("app");
  let peak = before.peak_mib;
  let start = 0;
  let ms = 0;
  const { value: file, cost } = await ctx.meter.measure(
    { name: `daily push_events export, ${rows.toLocaleString("en")} rows`, unit: "exported row", operations: rows },
    async () => {
      start = performance.now();
      await ctx.api("POST", "/v1/admin/jobs/daily_exports", { date: day }, ctx.admin);
      for (;;) {
        await sleep(250);
        peak = Math.max(peak, ctx.memoryOf("app").peak_mib);
        const { files } = await ctx.api("GET", `/v1/exports?type=push_events&date=${day}`, undefined, rest);
        if (files[0]) {
          ms = performance.now() - start;
          return files[0];
        }
        if (performance.now() - start > 30 * 60_000) throw new Error("no export file after 30 minutes");
      }
    },
  );
  const after = ctx.memoryOf("app");
  return {
    figures: [
      {
        figure: `daily push_events export, ${rows.toLocaleString("en")} staged events`,
        rows: file.rows,
        bytes: file.bytes,
        export_ms: Math.round(ms),
        rows_per_s: Math.round(file.rows / (ms / 1000)),
        mib_per_s: +(file.bytes / 1048576 / (ms / 1000)).toFixed(1),
        seed_ms: seedMs,
        worker_memory_before: before,
        worker_peak_mib: Math.max(peak, after.peak_mib),
      },
    ],
    costs: [cost],
  };
}
