// `npm run bench`: starts edge-cdp and a baseline Worker (one Durable Object SQLite write per
// request) locally in workerd, drives both with autocannon at the same concurrency, and prints
// ratios measured in this one run. Writes bench/results.json. Nothing here is a test: no target
// failing makes it exit non-zero, it reports.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { memoryOf, workerdPids } from "./workerd.mjs";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
/**
 * The baseline, the reference and the SDK batch scenario alternate in this many rounds of
 * DURATION / 4 seconds each. Short rounds keep the warm installations warm: workerd evicts a
 * Durable Object after 10 s without a request, and the SDK scenario waits two rounds for its turn.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PROFILES = Number(process.env.BENCH_PROFILES ?? 1_000_000);
const AUDIENCE = Number(process.env.BENCH_AUDIENCE ?? 1_000_000);
const APP_PORT = 8788;
const BASE_PORT = 8789;
const ADMIN = "bench-admin-token";
const STATE = ".wrangler/bench";
const wrangler = "node_modules/.bin/wrangler";

const results = {
  run_at: new Date().toISOString(),
  connections: CONNECTIONS,
  duration_s: DURATION,
  scenarios: [],
  figures: [],
};
const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGTERM");
});
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(1));

function start(args, port, state) {
  const child = spawn(
    wrangler,
    [
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(port + 1000),
      "--persist-to",
      state,
      ...args,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  children.push(child);
  return { child, log: () => log };
}

async function waitFor(url) {
  for (let i = 0; i < 240; i++) {
    try {
      await fetch(url);
      return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer`);
}

/** CPU time, in ticks of 10 ms, of each thread of the workerd processes serving a Worker. */
function cpuTicks(wranglerPid) {
  const ticks = new Map();
  for (const pid of workerdPids(wranglerPid)) {
    try {
      for (const thread of readdirSync(`/proc/${pid}/task`)) {
        const fields = readFileSync(`/proc/${pid}/task/${thread}/stat`, "utf8").split(") ")[1].split(" ");
        ticks.set(`${pid}/${thread}`, Number(fields[11]) + Number(fields[12]));
      }
    } catch {}
  }
  return ticks;
}

/**
 * Milliseconds of CPU per request over readings taken around loads (`before`, `after`): all
 * workerd threads together, and the busiest thread.
 */
function cpuPerRequest(readings, requests) {
  const byThread = new Map();
  for (const { before, after } of readings) {
    for (const [thread, ticks] of after) {
      byThread.set(thread, (byThread.get(thread) ?? 0) + ticks - (before.get(thread) ?? 0));
    }
  }
  const deltas = [...byThread.values()];
  const ms = (ticks) => +((ticks * 10) / requests).toFixed(2);
  return { workerd_ms: ms(deltas.reduce((a, b) => a + b, 0)), busiest_thread_ms: ms(Math.max(0, ...deltas)) };
}

async function api(method, path, body, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${APP_PORT}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const admin = { Authorization: `Bearer ${ADMIN}` };
let opCounter = 0;
const op = (o) => ({ id: `b${++opCounter}-${Math.random().toString(36).slice(2)}`, ...o });
const tenOps = () =>
  Array.from({ length: 10 }, (_, k) =>
    k % 2
      ? op({ type: "event", name: "viewed", attributes: { k } })
      : op({ type: "attributes", attributes: { [`a${k}`]: k } }),
  );

function load(name, port, makeBody, headers, opsPerRequest, { amount, duration = DURATION } = {}) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        ...(amount ? { amount } : { duration }),
        requests: [
          {
            method: "POST",
            path: headers.path ?? "/",
            headers: { "Content-Type": "application/json", ...headers.headers },
            setupRequest: (req) => ({ ...req, body: JSON.stringify(makeBody()) }),
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err);
        const perSecond = r.requests.total / r.duration;
        const row = {
          scenario: name,
          requests_per_s: perSecond < 10 ? +perSecond.toFixed(1) : Math.round(perSecond),
          operations_per_s: Math.round(perSecond * opsPerRequest),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          non_2xx: r.non2xx,
          errors: r.errors,
          total: r.requests.total,
          seconds: r.duration,
          ops_per_request: opsPerRequest,
        };
        resolve(row);
      },
    );
  });
}

/**
 * Runs loads in alternating rounds, so that a machine getting faster or slower during the
 * run weighs on both alike. Requests/s is over all rounds; p50 is the median round's, p99 the
 * worst round's.
 */
async function interleaved(loads, rounds) {
  const runs = loads.map(() => []);
  for (let k = 0; k < rounds; k++) {
    for (const [i, run] of loads.entries()) runs[i].push(await run());
  }
  return runs.map((rows) => {
    const total = rows.reduce((n, r) => n + r.total, 0);
    const seconds = rows.reduce((n, r) => n + r.seconds, 0);
    const median = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    return {
      scenario: rows[0].scenario,
      requests_per_s: Math.round(total / seconds),
      operations_per_s: Math.round((total / seconds) * rows[0].ops_per_request),
      p50_ms: median(rows.map((r) => r.p50_ms)),
      p99_ms: Math.max(...rows.map((r) => r.p99_ms)),
      non_2xx: rows.reduce((n, r) => n + r.non_2xx, 0),
      errors: rows.reduce((n, r) => n + r.errors, 0),
      total,
      rounds: rows.map((r) => r.requests_per_s),
    };
  });
}

async function timed(fn) {
  const t = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t), value };
}

async function main() {
  rmSync(STATE, { recursive: true, force: true });
  rmSync(`${STATE}-baseline`, { recursive: true, force: true });
  try {
    execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
  } catch (error) {
    console.error(String(error.stdout), String(error.stderr));
    throw error;
  }
  const app = start(["--var", `ADMIN_TOKEN:${ADMIN}`], APP_PORT, STATE);
  const baseline = start(["--config", "bench/baseline/wrangler.toml"], BASE_PORT, `${STATE}-baseline`);
  try {
    await waitFor(`http://127.0.0.1:${APP_PORT}/health`);
    await waitFor(`http://127.0.0.1:${BASE_PORT}/`);
  } catch (error) {
    console.error(app.log(), baseline.log());
    throw error;
  }

  const project = await api("POST", "/v1/admin/projects", { name: "bench" }, admin);
  const app1 = await api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: "ios", platform: "ios" },
    admin,
  );
  const rest = { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id };
  const sdk = { "X-Api-Key": app1.sdk_api_key };

  // Warm installations for the steady-state SDK scenario: each has sent one batch like those
  // measured, and both Workers take a short unmeasured run first (JIT, object start-up). They
  // are taken in turn, so each sees a batch every couple of seconds and its object stays in memory.
  // Idle installations have sent such a batch too, then nothing until their scenario, long after
  // their objects were evicted.
  const warm = Array.from({ length: 200 }, () => crypto.randomUUID());
  const idle = Array.from({ length: 400 }, () => crypto.randomUUID());
  for (const i of [...idle, ...warm]) await api("POST", "/v1/sdk/batch", { installation_id: i, ops: tenOps() }, sdk);
  // Each of those objects armed its outbox's fallback alarm for 30 s later: let those 600 wake-ups
  // pass before measuring anything, or they land in the first rounds.
  await new Promise((r) => setTimeout(r, 35_000));
  let turn = 0;
  const body = () => ({ installation_id: warm[turn++ % warm.length], ops: tenOps() });
  await load("warm-up", BASE_PORT, body, {}, 1, { duration: 3 });
  await load("warm-up", BASE_PORT, body, { path: "/limited" }, 1, { duration: 3 });
  await load("warm-up", APP_PORT, body, { path: "/v1/sdk/batch", headers: sdk }, 10, { duration: 3 });

  const round = DURATION / 4;
  // CPU per request: the baseline Worker's per round; edge-cdp's over the whole alternation and a
  // few seconds after, so that the work a batch leaves behind (queue sends, consumers) counts.
  const baseCpu = { baseline: [], reference: [] };
  const withCpu = async (into, run) => {
    const before = cpuTicks(baseline.child.pid);
    const row = await run();
    into.push({ before, after: cpuTicks(baseline.child.pid) });
    return row;
  };
  const appBefore = cpuTicks(app.child.pid);
  const [base, limited, sdkWarm] = await interleaved(
    [
      () =>
        withCpu(baseCpu.baseline, () =>
          load("baseline: one DO SQLite write", BASE_PORT, body, {}, 1, { duration: round }),
        ),
      () =>
        withCpu(baseCpu.reference, () =>
          load("reference: one rate-limit call, then one DO SQLite write", BASE_PORT, body, { path: "/limited" }, 1, {
            duration: round,
          }),
        ),
      () =>
        load("SDK batch, 10 ops, warm installations", APP_PORT, body, { path: "/v1/sdk/batch", headers: sdk }, 10, {
          duration: round,
        }),
    ],
    ROUNDS,
  );
  await new Promise((r) => setTimeout(r, 3_000));
  sdkWarm.cpu = cpuPerRequest([{ before: appBefore, after: cpuTicks(app.child.pid) }], sdkWarm.total);
  base.cpu = cpuPerRequest(baseCpu.baseline, base.total);
  limited.cpu = cpuPerRequest(baseCpu.reference, limited.total);
  results.scenarios.push(base, limited, sdkWarm);
  // What the Rate Limiting binding costs here, which every edge-cdp call pays and the baseline does not.
  results.rate_limit_binding = {
    reference_rps_x_baseline: +(limited.requests_per_s / base.requests_per_s).toFixed(2),
    sdk_batch_rps_x_reference: +(sdkWarm.requests_per_s / limited.requests_per_s).toFixed(2),
  };
  if (process.env.BENCH_QUICK) {
    console.log(
      JSON.stringify(
        {
          baseline: base,
          reference: limited,
          sdk: sdkWarm,
          ratio: sdkWarm.requests_per_s / base.requests_per_s,
          rate_limit_binding: results.rate_limit_binding,
        },
        null,
        1,
      ),
    );
    process.exit(0);
  }

  let woken = 0;
  const idleLoad = await load(
    "SDK batch, 10 ops, installations idle past their object's eviction",
    APP_PORT,
    () => ({ installation_id: idle[woken++ % idle.length], ops: tenOps() }),
    { path: "/v1/sdk/batch", headers: sdk },
    10,
    { amount: idle.length },
  );
  results.scenarios.push(idleLoad);

  const fresh = [];
  const firstContact = await load(
    "SDK first contact of new installations",
    APP_PORT,
    () => {
      const i = crypto.randomUUID();
      fresh.push(i);
      return { installation_id: i, ops: [op({ type: "event", name: "first_open" })] };
    },
    { path: "/v1/sdk/batch", headers: sdk },
    1,
  );
  results.scenarios.push(firstContact);

  // Contention: installations that exist log in to one new custom ID, each exactly once.
  const crowd = fresh.slice(0, Math.min(fresh.length, 3000));
  let next = 0;
  const login = await load(
    "login of many installations into one custom ID",
    APP_PORT,
    () => ({
      installation_id: crowd[next++ % crowd.length],
      ops: [op({ type: "identify", custom_id: "bench-crowd" })],
    }),
    { path: "/v1/sdk/batch", headers: sdk },
    1,
    { amount: crowd.length },
  );
  const crowdView = await api("GET", "/v1/profiles?custom_id=bench-crowd", undefined, rest);
  const onOne = (
    await Promise.all(
      crowd
        .slice(0, 200)
        .map((i) => api("GET", `/v1/profiles?installation_id=${i}`, undefined, rest).then((v) => v.profile_id)),
    )
  ).every((id) => id === crowdView.profile_id);
  login.check = {
    logins_sent: crowd.length,
    installations_on_profile: crowdView.installations.length,
    sampled_installations_on_that_profile: onOne,
    one_profile_no_lost_transition: crowdView.installations.length === crowd.length && onOne,
  };
  results.scenarios.push(login);

  let member = 0;
  const profileApi = await load(
    "Profile API update, 200 operations per request",
    APP_PORT,
    () =>
      Array.from({ length: 200 }, () => ({
        identifiers: { custom_id: `member-${member++ % 20000}` },
        attributes: { tier: member % 3 ? "gold" : "silver", score: member },
      })),
    { path: "/v1/profiles/update", headers: rest },
    200,
  );
  profileApi.profile_updates_per_s = profileApi.operations_per_s;
  results.scenarios.push(profileApi);

  // Segment count over PROFILES projected profiles, seeded straight into local D1.
  const seed = timedSync(() =>
    execFileSync(
      wrangler,
      [
        "d1",
        "execute",
        "DB",
        "--local",
        "--persist-to",
        STATE,
        "--command",
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${PROFILES})
         INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
           SELECT '${project.project_id}', printf('seed-%09d', i), printf('user-%09d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${PROFILES})
         INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, value_num, value_json, version)
           SELECT '${project.project_id}', printf('seed-%09d', i), 'tier', 'string', CASE i % 10 WHEN 0 THEN 'gold' ELSE 'silver' END, NULL, NULL, 1 FROM n;`,
      ],
      { stdio: "ignore" },
    ),
  );
  const where = { attribute: "tier", op: "eq", value: "gold" };
  await api("POST", "/v1/segments/query", { where, count_only: true }, rest); // warm
  const counts = [];
  for (let k = 0; k < 5; k++)
    counts.push(await timed(() => api("POST", "/v1/segments/query", { where, count_only: true }, rest)));
  const memAfterSegments = memoryOf(app.child.pid);
  results.figures.push({
    figure: `segment count_only, one indexed attribute condition, ${PROFILES.toLocaleString("en")} profiles`,
    seed_ms: seed.ms,
    median_ms: counts.map((c) => c.ms).sort((a, b) => a - b)[2],
    count: counts[0].value.count,
    worker_memory: memAfterSegments,
  });

  // Audience replace of AUDIENCE IDs, streamed as CSV.
  await api("POST", "/v1/audiences", { name: "bench_audience", type: "custom_ids" }, rest).catch((e) => ({
    error: String(e),
  }));
  const csv = new ReadableStream({
    start() {
      this.i = 0;
    },
    pull(controller) {
      const lines = [];
      for (let k = 0; k < 10_000 && this.i < AUDIENCE; k++) lines.push(`user-${String(++this.i).padStart(9, "0")}`);
      if (lines.length) controller.enqueue(new TextEncoder().encode(`${lines.join("\n")}\n`));
      if (this.i >= AUDIENCE) controller.close();
    },
  });
  const replace = await timed(async () => {
    const res = await fetch(`http://127.0.0.1:${APP_PORT}/v1/audiences/bench_audience`, {
      method: "PUT",
      headers: { ...rest, "Content-Type": "text/csv" },
      body: csv,
      duplex: "half",
    });
    return { status: res.status, body: (await res.text()).slice(0, 300) };
  });
  const audience = await api("GET", "/v1/audiences/bench_audience", undefined, rest).catch((e) => ({
    error: String(e),
  }));
  results.figures.push({
    figure: `audience replace, ${AUDIENCE.toLocaleString("en")} IDs streamed as CSV`,
    ms: replace.ms,
    status: replace.value.status,
    size: audience.size,
    worker_memory: memoryOf(app.child.pid),
  });

  // Ratios against the baseline measured in this run.
  for (const s of results.scenarios) {
    s.ratio_rps = +(s.requests_per_s / base.requests_per_s).toFixed(2);
    s.ratio_p99 = +(s.p99_ms / Math.max(base.p99_ms, 1)).toFixed(2);
  }
  results.targets = {
    sdk_batch_rps_at_least_half_baseline: sdkWarm.ratio_rps >= 0.5,
    sdk_batch_p99_at_most_3x_baseline: sdkWarm.ratio_p99 <= 3,
    contended_login_one_profile_no_lost_transition: login.check.one_profile_no_lost_transition,
  };
  results.not_measured = ["daily CSV exports: not built yet"];

  writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nedge-cdp benchmark — ${CONNECTIONS} connections, ${DURATION} s per scenario\n`);
  console.log("| scenario | req/s | ops/s | p50 ms | p99 ms | ×baseline req/s | ×baseline p99 | non-2xx |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of results.scenarios) {
    console.log(
      `| ${s.scenario} | ${s.requests_per_s} | ${s.operations_per_s} | ${s.p50_ms} | ${s.p99_ms} | ${s.ratio_rps} | ${s.ratio_p99} | ${s.non_2xx} |`,
    );
  }
  console.log("\n| scenario | CPU ms per request, all workerd threads | CPU ms per request, busiest thread |");
  console.log("|---|---:|---:|");
  for (const s of results.scenarios.filter((s) => s.cpu)) {
    console.log(`| ${s.scenario} | ${s.cpu.workerd_ms} | ${s.cpu.busiest_thread_ms} |`);
  }
  console.log("\n| figure | result |\n|---|---|");
  for (const f of results.figures) console.log(`| ${f.figure} | ${JSON.stringify({ ...f, figure: undefined })} |`);
  console.log(`\ntargets: ${JSON.stringify(results.targets)}`);
  console.log(`rate-limit binding: ${JSON.stringify(results.rate_limit_binding)}`);
  console.log(`contended login: ${JSON.stringify(login.check)}`);
  process.exit(0);
}

function timedSync(fn) {
  const t = performance.now();
  fn();
  return { ms: Math.round(performance.now() - t) };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
