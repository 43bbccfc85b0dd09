// SDK batches of 10 ops to warm installations, alternating in rounds with three yardsticks on
// the bare Worker: one DO SQLite write, a rate-limit call then that write, and the floor (what a
// batch cannot avoid: a rate-limit call, one transaction of its commit's row (op IDs and staged
// message), events and profile, one queue send, that message then forgotten: 4 rows). A probe
// measures projection freshness meanwhile. Then two small metered runs: anonymous installations,
// and installations logged into a custom ID (each sent one batch like the metered ones first, so
// both measure the steady state).
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpuProfiler } from "../inspector.mjs";
import { cpuPerRequest, cpuTicks, withCpu } from "../lib/cpu.mjs";
import { startFreshnessProbe } from "../lib/freshness.mjs";
import { sleep } from "../lib/load.mjs";
import { op, tenOps } from "../lib/ops.mjs";
import { compare, target } from "../lib/report.mjs";

export async function run(ctx) {
  const { env } = ctx;
  // Warm installations: each has sent one batch like those measured. They are taken in turn,
  // so each sees a batch every couple of seconds and its object stays in memory (workerd, like
  // Cloudflare, evicts an object after 10 s without a request). Idle installations for the
  // sdk-idle scenario are made here too, so that they are long idle when it runs.
  const warm = Array.from({ length: env.warm }, () => crypto.randomUUID());
  const idle = Array.from({ length: env.idle }, () => crypto.randomUUID());
  for (const i of [...idle, ...warm])
    await ctx.api("POST", "/v1/sdk/batch", { installation_id: i, ops: tenOps() }, ctx.sdk);
  ctx.state.idle = { installations: idle, since: Date.now() };
  // Each object armed its outbox's fallback alarm for 30 s later: let those pass first.
  await sleep(35_000);

  let turn = 0;
  const body = () => ({ installation_id: warm[turn++ % warm.length], ops: tenOps() });
  const base = { url: ctx.urls.base, body };
  const sdk = { url: ctx.urls.app, path: "/v1/sdk/batch", headers: ctx.sdk, body, ops: 10 };
  for (const warmUp of [base, { ...base, path: "/limited" }, { ...base, path: "/unavoidable" }, sdk]) {
    await ctx.load({ name: "warm-up", ...warmUp, duration: 3 });
  }

  const duration = env.duration / 4;
  const cpu = { one: [], limited: [], floor: [] };
  const basePid = ctx.servers.base.pid;
  const probe = startFreshnessProbe(ctx);
  // BENCH_CPU_PROFILE=1: a CPU profile of edge-cdp's isolate over the rounds (see saveProfile).
  const profiler = process.env.BENCH_CPU_PROFILE ? await cpuProfiler(ctx.ports.app + 1000) : null;
  const appBefore = cpuTicks(ctx.servers.app.pid);
  const [one, limited, floor, batch] = await ctx.interleaved(
    [
      () => withCpu(cpu.one, basePid, () => ctx.load({ name: "yardstick: one DO SQLite write", ...base, duration })),
      () =>
        withCpu(cpu.limited, basePid, () =>
          ctx.load({
            name: "yardstick: rate-limit call, then one DO SQLite write",
            ...base,
            path: "/limited",
            duration,
          }),
        ),
      () =>
        withCpu(cpu.floor, basePid, () =>
          ctx.load({
            name: "yardstick (floor): what a batch cannot avoid: rate-limit call, its 4 DO rows, one queue send",
            ...base,
            path: "/unavoidable",
            duration,
          }),
        ),
      () => ctx.load({ name: "SDK batch, 10 ops, warm installations", ...sdk, duration }),
    ],
    env.rounds,
  );
  if (profiler) saveProfile(await profiler.stop());
  const freshness = await probe.stop();
  await sleep(3_000);
  batch.cpu = cpuPerRequest([{ before: appBefore, after: cpuTicks(ctx.servers.app.pid) }], batch.total);
  one.cpu = cpuPerRequest(cpu.one, one.total);
  limited.cpu = cpuPerRequest(cpu.limited, limited.total);
  floor.cpu = cpuPerRequest(cpu.floor, floor.total);
  for (const y of [one, limited, floor]) y.yardstick = true;
  compare(batch, floor);
  const vsOne = compare({ ...batch }, one);
  batch.x_rps_one_write = vsOne.x_rps;

  // Metered on their own, after the load: per 1,000 batches of 10 ops.
  const costs = [];
  const metered = (installations) => {
    let k = 0;
    return () => ({ installation_id: installations[k++ % installations.length], ops: tenOps() });
  };
  const n = env.metered;
  const sdkMetered = (installations) => () =>
    ctx.load({ name: "metered", ...sdk, body: metered(installations), connections: 4, amount: n });
  const anonymous = await ctx.meter.measure(
    { name: "SDK batch, 10 ops, anonymous installation", unit: "10-op SDK batch", operations: n },
    sdkMetered(warm.slice(0, 50)),
  );
  costs.push(anonymous.cost);
  const signedIn = Array.from({ length: 50 }, () => crypto.randomUUID());
  for (const [k, i] of signedIn.entries()) {
    await ctx.api(
      "POST",
      "/v1/sdk/batch",
      { installation_id: i, ops: [op({ type: "identify", custom_id: `bench-signed-${k}-${i.slice(0, 8)}` })] },
      ctx.sdk,
    );
  }
  // An identify alone leaves the profile without the attributes the metered batches write: one
  // batch like them first, so that the metered ones rewrite them, as the anonymous ones do.
  for (const i of signedIn) await ctx.api("POST", "/v1/sdk/batch", { installation_id: i, ops: tenOps() }, ctx.sdk);
  await ctx.meter.settle();
  const loggedIn = await ctx.meter.measure(
    { name: "SDK batch, 10 ops, installation logged into a custom ID", unit: "10-op SDK batch", operations: n },
    sdkMetered(signedIn),
  );
  costs.push(loggedIn.cost);

  return {
    scenarios: [one, limited, floor, batch],
    figures: [
      {
        figure:
          "projection freshness: a write's 2xx answer until a segment count_only sees it (SDK and Profile API writes, during the SDK warm rounds)",
        ...freshness,
      },
    ],
    targets: {
      sdk_batch_rps_vs_floor: target(batch.x_rps, ">=", 0.75, "×"),
      sdk_batch_rps_vs_one_write: target(vsOne.x_rps, ">=", 0.5, "×"),
      sdk_batch_p99_vs_floor: target(batch.x_p99, "<=", 2, "×"),
      projection_freshness_p99: target(freshness.p99_ms, "<=", 5000, " ms"),
    },
    costs: costs.filter(Boolean),
    extra: {
      rate_limit_binding: {
        limited_rps_x_one_write: +(limited.requests_per_s / one.requests_per_s).toFixed(2),
        sdk_batch_rps_x_one_write: vsOne.x_rps,
      },
    },
  };
}

const PROFILE = "bench/results.sdk-warm.cpuprofile";

/**
 * Writes the profile, and beside it the bundle `wrangler dev` serves with its source map (it is
 * deleted when wrangler stops), for `node bench/profile-summary.mjs bench/results.sdk-warm.cpuprofile`.
 */
function saveProfile(profile) {
  writeFileSync(PROFILE, JSON.stringify(profile));
  // The yardstick Worker's bundle sits there too.
  const dev = readdirSync(".wrangler/tmp").find(
    (d) => d.startsWith("dev-") && readFileSync(`.wrangler/tmp/${d}/index.js`, "utf8").includes("InstallationObject"),
  );
  if (dev) cpSync(`.wrangler/tmp/${dev}`, `${PROFILE}.bundle`, { recursive: true });
  console.error(`CPU profile: ${PROFILE}`);
}
