// Mass update under load: how long the accept of 10,000 operations on new custom IDs takes, how
// long they take to apply, and what the SDK path and /health see meanwhile, against the same
// SDK load with no mass update running. `ctx` comes from bench/run.mjs.
const OPERATIONS = Number(process.env.BENCH_MASS_UPDATE_OPS ?? 10_000);
const WARM = 20;

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
  return {
    figures: [figure],
    scenarios: [quiet, busy],
    targets: {
      mass_update_accept_under_2s: acceptMs < 2000,
      mass_update_applied: status.status === "done" && status.applied === OPERATIONS,
      sdk_p99_during_mass_update_at_most_3x_quiet: busy.p99_ms <= 3 * Math.max(quiet.p99_ms, 1),
      health_p90_during_mass_update_under_1s: healthDuring.p90_ms < 1000,
    },
  };
}
