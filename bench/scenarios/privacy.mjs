// Privacy figures against a running edge-cdp (see `run` below for what `ctx` holds):
//   - removes per second: BENCH_REMOVES profiles (default 500), each signed in from its own
//     installation with a few attributes and events, are removed by privacy requests posted all
//     at once; timed from the first POST until every request is `done`.
//   - purge of BENCH_PURGE inactive profiles (default 2,000): seeded through the synchronous
//     Profile API update (200 new custom IDs a request, its limit, BENCH_PURGE_SEED_CONCURRENCY
//     requests in flight, default 4; one custom ID object per profile), projected into D1, then
//     purged by `POST /v1/admin/jobs/purge`; timed from the POST until
//     `GET /v1/admin/jobs/purge/{id}` says `done`. The seed time is reported apart. On the
//     2-core development machine (README, Performance): 2,000 in 55.2 s (36.2/s), 10,000 in
//     266.7 s (37.5/s), seeded at about 43 profiles/s written, then projected; 100,000 would
//     take about 45 minutes after a seed of about 55.
// It reports; it never fails on a number. Each figure uses its own project.

const REMOVES = Number(process.env.BENCH_REMOVES ?? 500);
const PURGE = Number(process.env.BENCH_PURGE ?? 2_000);
/** Requests in flight at once while seeding and posting. */
const CONCURRENCY = Number(process.env.BENCH_PRIVACY_CONCURRENCY ?? 16);
/** The Profile API update's limit: operations per request. */
const UPDATE_OPS = 200;
/** Profile API updates in flight at once while seeding the purge. */
const SEED_CONCURRENCY = Number(process.env.BENCH_PURGE_SEED_CONCURRENCY ?? 4);
const DAY_MS = 86_400_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms) => +(ms / 1000).toFixed(1);

/** Runs `fn` over `items`, at most `limit` at once, in order of the items. */
async function mapBounded(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Polls `check` until it returns a value other than undefined; gives up after `timeoutMs`. */
async function until(check, { everyMs = 1000, timeoutMs = 3 * 3600_000, what }) {
  const start = performance.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not done after ${seconds(timeoutMs)} s`);
    await sleep(everyMs);
  }
}

/** A new project with an SDK app, and its keys. */
async function newProject(ctx, name) {
  const project = await ctx.api("POST", "/v1/admin/projects", { name }, ctx.admin);
  const app = await ctx.api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: `${name}-ios`, platform: "ios" },
    ctx.admin,
  );
  return {
    project,
    rest: { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id },
    sdk: { "X-Api-Key": app.sdk_api_key },
  };
}

/** One D1 number, read with wrangler from the running edge-cdp's local state (run from the repository's root). */
/** The number `sql` answers on the local D1 database `database` (a binding). */
function d1Number(ctx, database, sql) {
  const out = ctx.wrangler.run([
    "d1",
    "execute",
    database,
    "--local",
    "--persist-to",
    ctx.wrangler.state.app,
    "--json",
    "--command",
    sql,
  ]);
  const [first] = JSON.parse(out);
  return Number(Object.values(first.results[0])[0]);
}

async function removesPerSecond(ctx) {
  const { project, rest, sdk } = await newProject(ctx, "bench-privacy-removes");
  let op = 0;
  const ops = (k) => [
    { id: `r${++op}`, type: "identify", custom_id: `remove-${k}` },
    { id: `r${++op}`, type: "attributes", attributes: { tier: k % 2 ? "gold" : "silver", score: k, city: "Paris" } },
    ...Array.from({ length: 3 }, (_, e) => ({
      id: `r${++op}`,
      type: "event",
      name: "viewed",
      attributes: { item: `sku-${e}` },
    })),
  ];
  const ids = Array.from({ length: REMOVES }, (_, k) => k);
  const seedStart = performance.now();
  await mapBounded(ids, CONCURRENCY, (k) =>
    ctx.api("POST", "/v1/sdk/batch", { installation_id: crypto.randomUUID(), ops: ops(k) }, sdk),
  );
  const seedMs = performance.now() - seedStart;
  // The events reach R2 through the event queue: let it drain, so the removes find and delete them.
  await sleep(5_000);

  const start = performance.now();
  const requests = await mapBounded(ids, CONCURRENCY, (k) =>
    ctx.api(
      "POST",
      "/v1/privacy/requests",
      { type: "remove", identifier: { type: "custom_id", value: `remove-${k}` } },
      rest,
    ),
  );
  const postedMs = performance.now() - start;
  const mine = new Set(requests.map((r) => r.request_id));
  const states = await until(
    async () => {
      const seen = { done: 0, failed: 0, pending: 0, r2_events: 0 };
      let cursor = null;
      do {
        const page = await ctx.api(
          "GET",
          `/v1/privacy/requests?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
          undefined,
          rest,
        );
        for (const r of page.requests) {
          if (!mine.has(r.request_id)) continue;
          seen[r.status]++;
          seen.r2_events += r.receipt?.totals?.["r2.events"] ?? 0;
        }
        cursor = page.next_cursor;
      } while (cursor);
      return seen.pending === 0 && seen.done + seen.failed === mine.size ? seen : undefined;
    },
    { everyMs: 500, what: "privacy removes" },
  );
  const ms = performance.now() - start;
  return {
    figure: `privacy removes, ${REMOVES.toLocaleString("en")} profiles (1 installation, 3 attributes, 3 events each)`,
    removes_per_s: +(REMOVES / (ms / 1000)).toFixed(1),
    seconds: seconds(ms),
    post_seconds: seconds(postedMs),
    seed_seconds: seconds(seedMs),
    done: states.done,
    failed: states.failed,
    staged_events_deleted: states.r2_events,
    project_id: project.project_id,
  };
}

async function purgeInactive(ctx) {
  const { project, rest } = await newProject(ctx, "bench-privacy-purge");
  const projectId = project.project_id;
  // Seed: the synchronous Profile API update, 200 new custom IDs a request (its limit), a few
  // requests in flight; each operation makes a custom ID object holding a profile, applied
  // before the response and projected into D1 by the projection queue.
  const seedStart = performance.now();
  const requests = Array.from({ length: Math.ceil(PURGE / UPDATE_OPS) }, (_, r) => r);
  const answers = await mapBounded(requests, SEED_CONCURRENCY, (r) => {
    const from = r * UPDATE_OPS;
    const body = Array.from({ length: Math.min(UPDATE_OPS, PURGE - from) }, (_, k) => ({
      identifiers: { custom_id: `sleeper-${from + k}` },
      attributes: { tier: (from + k) % 3 ? "gold" : "silver", score: from + k },
    }));
    return ctx.api("POST", "/v1/profiles/update", body, rest);
  });
  const partial = answers.filter((a) => a.code !== "SUCCESS").length;
  if (partial) throw new Error(`seed: ${partial} updates answered with partial errors`);
  const appliedMs = performance.now() - seedStart;
  // The project's profiles are on the shard the directory placed it on.
  const shard = ctx.wrangler.shardOf(projectId);
  const activeSql = `SELECT count(*) FROM profiles WHERE project_id = '${projectId}' AND state = 'active' AND holder_kind IS NOT NULL`;
  const projected = await until(
    () => {
      const n = d1Number(ctx, shard, activeSql);
      return n >= PURGE ? n : undefined;
    },
    { everyMs: 5000, timeoutMs: 60 * 60_000, what: "projection of the seeded profiles" },
  );
  const seedMs = performance.now() - seedStart;

  // Inactive after one day; the purge runs as of two days from now. Only this project's
  // profiles are that idle (other projects keep the default period, and no orphan is old enough).
  await ctx.api("PATCH", `/v1/admin/projects/${projectId}`, { inactivity_days: 1 }, ctx.admin);
  const asOf = new Date(Date.now() + 2 * DAY_MS).toISOString();
  const start = performance.now();
  const job = await ctx.api("POST", "/v1/admin/jobs/purge", { as_of: asOf }, ctx.admin);
  const status = await until(
    async () => {
      const s = await ctx.api("GET", `/v1/admin/jobs/purge/${job.request_id}`, undefined, ctx.admin);
      return s.status === "done" ? s : undefined;
    },
    // The status counts the job's results: read it less often when there are many.
    { everyMs: PURGE > 10_000 ? 5000 : 2000, what: "purge" },
  );
  const ms = performance.now() - start;
  const left = d1Number(ctx, shard, activeSql);
  return {
    figure: `inactive-profile purge, ${PURGE.toLocaleString("en")} profiles (Profile API, one custom ID object each)`,
    purge_seconds: seconds(ms),
    profiles_per_s: +(PURGE / (ms / 1000)).toFixed(1),
    removed: status.totals.inactive.removed ?? 0,
    spared: status.totals.inactive.spared ?? 0,
    active_left_in_d1: left,
    seed_seconds: seconds(seedMs),
    seed_applied_seconds: seconds(appliedMs),
    seed_projected: projected,
    project_id: projectId,
  };
}

/**
 * Uses `ctx.api` and `ctx.admin`, and reads edge-cdp's local D1 under `ctx.wrangler.state.app`
 * (run from the repository's root). Returns the figures, one object each, named by `figure`. BENCH_REMOVES=0 or BENCH_PURGE=0
 * leaves that figure out.
 */
export async function run(ctx) {
  const figures = [];
  for (const [count, measure, name] of [
    [REMOVES, removesPerSecond, "privacy removes"],
    [PURGE, purgeInactive, "inactive-profile purge"],
  ]) {
    if (count <= 0) continue;
    // One figure failing leaves the other standing.
    const figure = await measure(ctx).catch((error) => ({ figure: name, error: String(error?.stack ?? error) }));
    console.error(`privacy bench: ${JSON.stringify(figure)}`);
    figures.push(figure);
  }
  return { figures };
}
