// Batch's server APIs (SPEC §9): the bulk Custom Data API with BENCH_BATCH_USERS users (time to
// accept, updates applied per second), and a flat file of BENCH_BATCH_FILE_LINES lines from its
// drop in R2 to the applied audience (time, and workerd's peak memory before and after: a file
// is read in pieces of a few MB, one per queue message). `ctx` comes from bench/run.mjs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const USERS = Number(process.env.BENCH_BATCH_USERS ?? 10_000);
const LINES = Number(process.env.BENCH_BATCH_FILE_LINES ?? 1_000_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function bulkCustomData(ctx) {
  const { api, rest, app, project } = ctx;
  const tag = Math.random().toString(36).slice(2, 8);
  const body = Array.from({ length: USERS }, (_, k) => ({
    id: `batch-${tag}-${k}`,
    update: { overwrite: false, values: { "u.tier": k % 3 ? "gold" : "silver", "u.score": k, "ut.tags": ["a"] } },
  }));
  const t0 = performance.now();
  const res = await fetch(`${ctx.urls.app}/1.0/${app.sdk_api_key}/data/users`, {
    method: "POST",
    headers: { "X-Authorization": project.rest_api_key, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) throw new Error(`bulk Custom Data: ${res.status} ${await res.text()}`);
  const { request_id } = await res.json();
  const acceptMs = Math.round(performance.now() - t0);
  let status;
  for (;;) {
    status = await api("GET", `/v1/requests/${request_id}`, undefined, rest);
    if (status.status !== "pending") break;
    await sleep(500);
  }
  const applyS = (performance.now() - t0) / 1000;
  return {
    figure: `Batch bulk Custom Data API, ${USERS.toLocaleString("en")} users`,
    accept_ms: acceptMs,
    apply_s: Math.round(applyS * 10) / 10,
    updates_per_s: Math.round(USERS / applyS),
    status: status.status,
  };
}

async function flatFile(ctx) {
  const { api, rest, project } = ctx;
  const name = `bench_feed_${Math.random().toString(36).slice(2, 8)}`;
  await api(
    "PUT",
    `/v1/audience-feeds/${name}`,
    { header: true, delimiter: ",", column: "user_id", type: "custom_ids", mode: "replace" },
    rest,
  );
  const dir = mkdtempSync(path.join(tmpdir(), "bench-feed-"));
  const file = path.join(dir, `${name}.csv`);
  const lines = ["user_id"];
  for (let k = 1; k < LINES; k++) lines.push(`user-${k}-${(k * 2654435761) % 1e9}`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  const before = ctx.memoryOf("app");
  const t0 = performance.now();
  ctx.wrangler.run([
    "r2",
    "object",
    "put",
    `edge-cdp-exports/inbox/${project.project_id}/audiences/${name}.csv`,
    "--file",
    file,
    "--local",
    "--persist-to",
    ctx.wrangler.state.app,
  ]);
  const dropMs = Math.round(performance.now() - t0);
  const t1 = performance.now();
  const sweep = await api("POST", "/v1/admin/jobs/audience_inbox", {}, ctx.admin);
  let run;
  for (;;) {
    run = (await api("GET", `/v1/audience-feeds/${name}/runs`, undefined, rest)).runs[0];
    if (run && run.status !== "running") break;
    await sleep(500);
  }
  const applyS = (performance.now() - t1) / 1000;
  const audience = await api("GET", `/v1/audiences/${name}`, undefined, rest);
  rmSync(dir, { recursive: true, force: true });
  return {
    figure: `flat file of ${LINES.toLocaleString("en")} lines, drop to applied audience`,
    upload_ms: dropMs,
    apply_s: Math.round(applyS * 10) / 10,
    lines_per_s: Math.round(LINES / applyS),
    status: run.status,
    ids: run.ids,
    size: audience.size,
    queued: sweep.queued,
    worker_memory_before: before,
    worker_memory_after: ctx.memoryOf("app"),
  };
}

export async function run(ctx) {
  const bulk = await bulkCustomData(ctx);
  const file = await flatFile(ctx);
  return {
    figures: [bulk, file],
    targets: {
      "Batch bulk Custom Data applied": bulk.status === "done",
      "flat file applied whole": file.status === "done" && file.size === LINES - 1,
    },
  };
}
