// Mass update under load: how long the accept of 10,000 operations on new custom IDs takes, how
// long they take to apply, and what the SDK path and /health see meanwhile, against the same
// SDK load with no mass update running. Then the apply rate with nothing else running, in
// rounds alternating with the yardstick (`/mass` of bench/baseline/worker.ts: the same body
// chunked and queued alike, one row written into the object of each custom ID at the same
// concurrency), and the deployed rate worked out from the settings (docs/performance.md,
// "Mass update rate"). `ctx` comes from bench/run.mjs.
import { readFileSync } from "node:fs";

const OPERATIONS = Number(process.env.BENCH_MASS_UPDATE_OPS ?? 10_000);
const RATE_OPERATIONS = Number(process.env.BENCH_MASS_UPDATE_RATE_OPS ?? OPERATIONS);
const RATE_ROUNDS = Number(process.env.BENCH_MASS_UPDATE_ROUNDS ?? 2);
const WARM = 20;
const POLL_MS = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A number the settings file gives, by a pattern with one capture. */
function setting(file, pattern) {
  const found = readFileSync(file, "utf8").match(pattern);
  if (!found) throw new Error(`${pattern} not found in ${file}`);
  return Number(found[1].replaceAll("_", ""));
}

/**
 * The deployed rate of one project's mass updates by the formula of docs/performance.md, from
 * wrangler.toml and the constants in src/profiles/, with the platform times it assumes.
 */
export function deployedRate({ objectCallS = 0.05, fixedChunkS = 0.04 } = {}) {
  const toml = "wrangler.toml";
  const I = setting("src/profiles/mass-update.ts", /MAX_CHUNK_IDENTIFIERS = ([\d_]+)/);
  const W = setting("src/profiles/pace.ts", /PACE_WINDOW_SECONDS = ([\d_]+)/);
  const F = setting("src/profiles/mass-update.consumer.ts", /CHUNK_IDENTIFIERS_IN_FLIGHT = ([\d_]+)/);
  const P = setting(toml, /name = "MASS_UPDATE_PACE"[^[]*?limit = ([\d_]+)/);
  const S = setting(toml, /name = "MASS_UPDATE_SHARED_PACE"[^[]*?limit = ([\d_]+)/);
  const tasks =
    /\[\[queues\.consumers\]\]\nqueue = "edge-cdp-tasks"\n([^[]*)/.exec(readFileSync(toml, "utf8"))?.[1] ?? "";
  const C = Number(/max_concurrency = (\d+)/.exec(tasks)?.[1] ?? 1);
  const B = Number(/max_batch_size = (\d+)/.exec(tasks)?.[1] ?? 1);
  const chunkS = Math.ceil(I / F) * objectCallS + fixedChunkS;
  const project = (P * I) / W;
  const shared = (S * I) / W;
  const consume = (C * B * I) / chunkS;
  return {
    settings: { I, W, P, S, C, B, F, object_call_s: objectCallS, fixed_chunk_s: fixedChunkS },
    chunk_s: Math.round(chunkS * 100) / 100,
    project_per_s: Math.round(project),
    shared_per_s: Math.round(shared),
    consumer_per_s: Math.round(consume),
    one_project_per_s: Math.round(Math.min(project, shared, consume)),
  };
}

/** Operations on `n` new custom IDs under `prefix`, one attribute write each. */
const newIds = (prefix, n) =>
  Array.from({ length: n }, (_, k) => ({
    identifiers: { custom_id: `${prefix}-${k}` },
    attributes: { tier: k % 3 ? "gold" : "silver", score: k },
  }));

/** edge-cdp: accept, then poll the request until every chunk is recorded. */
async function timeOurs(ctx, operations) {
  const t0 = performance.now();
  const { request_id } = await ctx.api("POST", "/v1/profiles/mass-update", operations, ctx.rest);
  for (;;) {
    const status = await ctx.api("GET", `/v1/requests/${request_id}`, undefined, ctx.rest);
    if (status.status !== "pending") {
      if (status.applied !== operations.length) throw new Error(`mass update ${status.status}: ${status.applied}`);
      return performance.now() - t0;
    }
    await sleep(POLL_MS);
  }
}

/** The yardstick: queue the same body's chunks, then poll until each has written its rows. */
async function timeYardstick(ctx, operations, tag) {
  const t0 = performance.now();
  const res = await fetch(`${ctx.urls.base}/mass?tag=${tag}`, { method: "POST", body: JSON.stringify(operations) });
  const { chunks } = await res.json();
  for (;;) {
    const { done } = await (await fetch(`${ctx.urls.base}/mass?tag=${tag}`)).json();
    if (done >= chunks) return performance.now() - t0;
    await sleep(POLL_MS);
  }
}

/** Apply rates alone, alternating edge-cdp and the yardstick in rounds, each on new custom IDs. */
async function applyRates(ctx) {
  const ours = [];
  const base = [];
  for (let round = 0; round < RATE_ROUNDS; round++) {
    const tag = `rate${round}-${Math.random().toString(36).slice(2, 8)}`;
    const operations = newIds(`mu-${tag}`, RATE_OPERATIONS);
    const runs = [
      async () => ours.push(await timeOurs(ctx, operations)),
      async () => base.push(await timeYardstick(ctx, operations, tag)),
    ];
    // Alternate which goes first, so neither always finds the machine after the other's work.
    for (const run of round % 2 ? runs.reverse() : runs) {
      await run();
      await sleep(2000);
    }
  }
  const total = (list) => list.reduce((a, b) => a + b, 0);
  const oursPerS = (RATE_OPERATIONS * ours.length * 1000) / total(ours);
  const basePerS = (RATE_OPERATIONS * base.length * 1000) / total(base);
  return {
    figure: `mass update apply rate alone, ${RATE_OPERATIONS.toLocaleString("en")} operations on new custom IDs, ${RATE_ROUNDS} rounds against the yardstick`,
    ours_ms: ours.map(Math.round),
    yardstick_ms: base.map(Math.round),
    ours_per_s: Math.round(oursPerS),
    yardstick_per_s: Math.round(basePerS),
    ratio: Math.round((oursPerS / basePerS) * 100) / 100,
  };
}

const tenOps = (n) =>
  Array.from({ length: 10 }, (_, k) => ({
    id: `mu${n}-${k}-${Math.random().toString(36).slice(2)}`,
    ...(k % 2
      ? { type: "event", name: "viewed", attributes: { k } }
      : { type: "attributes", attributes: { [`a${k}`]: k } }),
  }));

async function healthProbe(port, stop) {
  const ms = [];
  while (!stop.done) {
    const t = performance.now();
    await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text());
    ms.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 250));
  }
  ms.sort((a, b) => a - b);
  const q = (f) => Math.round(ms[Math.floor(f * (ms.length - 1))] ?? 0);
  return { samples: ms.length, p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99) };
}

export async function run(ctx) {
  const { api, rest, sdk, load } = ctx;
  const port = ctx.ports.app;
  const warm = Array.from({ length: WARM }, () => crypto.randomUUID());
  let n = 0;
  for (const i of warm) await api("POST", "/v1/sdk/batch", { installation_id: i, ops: tenOps(n++) }, sdk);
  let turn = 0;
  const body = () => ({ installation_id: warm[turn++ % warm.length], ops: tenOps(n++) });
  const sdkLoad = (name) => load({ name, url: ctx.urls.app, path: "/v1/sdk/batch", headers: sdk, body, ops: 10 });

  const quiet = await sdkLoad("SDK batch, 10 ops, warm installations, no mass update");

  const tag = Math.random().toString(36).slice(2, 8);
  const operations = Array.from({ length: OPERATIONS }, (_, k) => ({
    identifiers: { custom_id: `mass-${tag}-${k}` },
    attributes: { tier: k % 3 ? "gold" : "silver", score: k },
  }));
  const t0 = performance.now();
  const accepted = await api("POST", "/v1/profiles/mass-update", operations, rest);
  const acceptMs = Math.round(performance.now() - t0);

  const stop = { done: false };
  const health = healthProbe(port, stop);
  const busy = await sdkLoad(
    `SDK batch, 10 ops, warm installations, while a ${OPERATIONS.toLocaleString("en")}-op mass update applies`,
  );
  let status;
  for (;;) {
    status = await api("GET", `/v1/requests/${accepted.request_id}`, undefined, rest);
    if (status.status !== "pending") break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const applyMs = Math.round(performance.now() - t0);
  stop.done = true;
  const healthDuring = await health;

  const figure = {
    figure: `mass update of ${OPERATIONS.toLocaleString("en")} operations on new custom IDs`,
    accept_ms: acceptMs,
    apply_ms: applyMs,
    status: status.status,
    applied: status.applied,
    sdk_p99_ms_quiet: quiet.p99_ms,
    sdk_p99_ms_during: busy.p99_ms,
    sdk_rps_quiet: quiet.requests_per_s,
    sdk_rps_during: busy.requests_per_s,
    sdk_non_2xx_during: busy.non_2xx,
    health_during: healthDuring,
  };
  const rates = await applyRates(ctx);
  const deployed = { figure: "mass update rate deployed, by arithmetic from the settings", ...deployedRate() };
  return {
    figures: [figure, rates, deployed],
    scenarios: [quiet, busy],
    targets: {
      mass_update_accept_under_2s: acceptMs < 2000,
      mass_update_applied: status.status === "done" && status.applied === OPERATIONS,
      sdk_p99_during_mass_update_at_most_3x_quiet: busy.p99_ms <= 3 * Math.max(quiet.p99_ms, 1),
      health_p90_during_mass_update_under_1s: healthDuring.p90_ms < 1000,
      mass_update_deployed_10k_per_s: {
        ok: deployed.one_project_per_s >= 10_000,
        value: deployed.one_project_per_s,
        target: ">= 10000 updates/s",
      },
    },
  };
}
