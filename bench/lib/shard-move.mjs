// A project move (POST /v1/admin/projects/{id}/move) timed on the Worker under test, for
// bench/scenarios/shards.mjs: its profiles are made through the SDK (the move replays them from
// their Durable Objects), then the move runs while an SDK load goes on against other
// installations, and once more, back, metered on its own.
import { sleep, timed } from "./load.mjs";
import { op } from "./ops.mjs";

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;

/**
 * SDK batches (one attribute set) from `connections` connections, each to one of `installations`
 * in turn, until `until` settles (or for `ms`). Every latency is kept: p99 over the whole window.
 */
async function sdkLoad(ctx, { installations, connections, until, ms }) {
  const latencies = [];
  let errors = 0;
  let non2xx = 0;
  let done = false;
  let turn = 0;
  const started = performance.now();
  if (until)
    until.then(
      () => (done = true),
      () => (done = true),
    );
  else setTimeout(() => (done = true), ms);
  const connection = async () => {
    while (!done) {
      const t = performance.now();
      try {
        const res = await fetch(`${ctx.urls.app}/v1/sdk/batch`, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...ctx.sdk },
          body: JSON.stringify({
            installation_id: installations[turn++ % installations.length],
            ops: [op({ type: "attributes", attributes: { score: turn } })],
          }),
          signal: AbortSignal.timeout(60_000),
        });
        await res.arrayBuffer();
        if (res.status >= 300) non2xx++;
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, connection));
  const seconds = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: sorted.length,
    requests_per_s: Math.round(sorted.length / seconds),
    p50_ms: Math.round(percentile(sorted, 0.5)),
    p99_ms: Math.round(percentile(sorted, 0.99)),
    non_2xx: non2xx,
    errors,
    seconds: +seconds.toFixed(1),
  };
}

/** The project's profile rows on each shard, from GET /v1/admin/shards. */
async function profilesByShard(ctx, projectId) {
  const { shards } = await ctx.api("GET", "/v1/admin/shards", undefined, ctx.admin);
  return Object.fromEntries(
    shards.map((s) => [s.shard, s.projects.find((p) => p.project_id === projectId)?.profiles ?? 0]),
  );
}

/** Polls until the project's profiles stop growing for `quietMs` (or reach `n`). */
async function waitProjected(ctx, projectId, n, quietMs = 10_000) {
  let last = -1;
  let since = Date.now();
  for (;;) {
    const total = Object.values(await profilesByShard(ctx, projectId)).reduce((a, b) => a + b, 0);
    if (total >= n) return total;
    if (total !== last) [last, since] = [total, Date.now()];
    else if (Date.now() - since > quietMs) return total;
    await sleep(1000);
  }
}

/**
 * Starts a move of `projectId` to `shard` and polls its job until it ends; the time each phase
 * began, in ms from the request.
 */
async function moveAndWait(ctx, projectId, shard, pollMs) {
  const started = performance.now();
  const { request_id } = await ctx.api("POST", `/v1/admin/projects/${projectId}/move`, { shard }, ctx.admin);
  const phases = { dual: 0 };
  for (;;) {
    await sleep(pollMs);
    const job = await ctx.api("GET", `/v1/admin/jobs/move/${request_id}`, undefined, ctx.admin);
    if (!(job.phase in phases)) phases[job.phase] = Math.round(performance.now() - started);
    if (job.status === "failed") throw new Error(`move ${request_id} failed: ${job.error}`);
    if (job.status === "done") return { request_id, ms: Math.round(performance.now() - started), phases };
  }
}

/**
 * Makes `n` profiles in a project of their own (one SDK first contact each, `seedConnections` at
 * a time), then moves it while `connections` connections send SDK batches to the bench app's
 * installations, after the same load alone; then moves it back under the meter.
 */
export async function measureMove(ctx, { n, connections, seedConnections, metered = true }) {
  const project = await ctx.api("POST", "/v1/admin/projects", { name: "bench-move" }, ctx.admin);
  const app = await ctx.api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: "move", platform: "ios" },
    ctx.admin,
  );
  // The load's installations, made first: each object's outbox alarm (30 s) is past before it runs.
  const installations = Array.from({ length: 200 }, () => crypto.randomUUID());
  const warmedAt = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, c) => {
      for (let k = c; k < installations.length; k += 8) {
        const body = { installation_id: installations[k], ops: [op({ type: "attributes", attributes: { score: 0 } })] };
        await ctx.api("POST", "/v1/sdk/batch", body, ctx.sdk);
      }
    }),
  );

  const seed = await timed(() =>
    ctx.load({
      name: "move seed",
      url: ctx.urls.app,
      path: "/v1/sdk/batch",
      headers: { "X-Api-Key": app.sdk_api_key },
      body: () => ({
        installation_id: crypto.randomUUID(),
        ops: [op({ type: "attributes", attributes: { tier: Math.random() < 0.1 ? "gold" : "silver" } })],
      }),
      connections: seedConnections,
      amount: n,
    }),
  );
  const projected = await waitProjected(ctx, project.project_id, n);
  const placed = await profilesByShard(ctx, project.project_id);
  const from = Object.entries(placed).find(([, p]) => p > 0)?.[0];
  const to = Object.keys(placed).find((s) => s !== from);
  await sleep(Math.max(0, 35_000 - (Date.now() - warmedAt)));

  const before = await sdkLoad(ctx, { installations, connections, ms: 15_000 });
  const move = moveAndWait(ctx, project.project_id, to, 250);
  const during = await sdkLoad(ctx, { installations, connections, until: move });
  const moved = await move;
  const after = await profilesByShard(ctx, project.project_id);
  const { phases } = moved;
  const copyMs = (phases.flipped ?? moved.ms) - (phases.copy ?? 0);
  // The fixed part: the three waits of a directory TTL (before the copy, after the flip, after
  // the cleanup), whatever the size; the rest (copy, deletes) grows with the profiles.
  const waitsMs = (phases.copy ?? 0) + (phases.delete ?? phases.done ?? moved.ms) - (phases.flipped ?? moved.ms);

  const result = {
    n,
    projected,
    seed_ms: seed.ms,
    seed: { requests_per_s: seed.value.requests_per_s, non_2xx: seed.value.non_2xx, errors: seed.value.errors },
    from,
    to,
    move: moved,
    copy_ms: copyMs,
    waits_ms: waitsMs,
    profiles_per_s_copy: Math.round(projected / (copyMs / 1000)),
    profiles_per_s_whole: Math.round(projected / (moved.ms / 1000)),
    before,
    during,
    check: { after_move: after },
  };

  // Back to where it was, metered alone: the billable units of moving `projected` profiles.
  // `metered: false` skips it (a move's units grow linearly with its profiles: a run of the
  // default size prices it, and a large run need not move everything twice).
  if (!metered) return { ...result, cost: null };
  await ctx.meter.settle();
  const back = await ctx.meter.measure(
    {
      name: `a project move, ${projected.toLocaleString("en")} profiles`,
      unit: "profile moved",
      operations: projected,
    },
    () => moveAndWait(ctx, project.project_id, from, 2000),
  );
  const placedBack = await profilesByShard(ctx, project.project_id);
  return {
    ...result,
    check: { ...result.check, after_move_back: placedBack, move_back_ms: back.value.ms },
    cost: back.cost,
  };
}
