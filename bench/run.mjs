// `npm run bench`: starts edge-cdp (with its meter on) and the yardstick Worker
// (bench/baseline/) locally in workerd, runs the scenario modules below in order, and prints
// markdown tables: each hot path beside the yardstick doing the same platform calls, measured
// in this run and alternating with it; the `targets:` line; the billable units per 1,000
// operations and their price. Writes bench/results.json (a subset run writes
// bench/results.<names>.json). Nothing here is a test: a target not met does not fail the run.
//
// Subsets: `BENCH_ONLY=sdk-warm,segments npm run bench`, or `node bench/run.mjs sdk-warm segments`.
// Settings (environment): BENCH_DURATION (s per alternating load, split in rounds), BENCH_ROUNDS,
// BENCH_CONNECTIONS, BENCH_PROFILES, BENCH_AUDIENCE, and the others in SETTINGS; the shards
// scenario reads its own: BENCH_SHARD_PROFILES (1,000,000: the count, on 1 shard and split over 4),
// BENCH_SIZE_PROFILES (100,000: bytes per profile at 2 and 10 attributes), BENCH_MOVE_PROFILES
// (5,000: the project moved), BENCH_MOVE_CONNECTIONS (8: the SDK load during the move) and
// BENCH_MOVE_SEED_CONNECTIONS (32: the first contacts that make its profiles). `wrangler dev`
// reloads when a file it serves changes: do not edit the worktree while a run goes on.
//
// A scenario module, bench/scenarios/<name>.mjs, exports `async function run(ctx)` returning
//   { scenarios?: [row], figures?: [{ figure, ...values }], targets?: { name: boolean | { ok, value, target } },
//     costs?: [cost row | null], extra?: { ... } }
// where a row is what ctx.load / ctx.interleaved return (mark yardstick rows `yardstick: true`
// and call compare(row, yardstick) from lib/report.mjs), and a cost row is what
// ctx.meter.measure returns. `ctx` holds:
//   env         the settings below (numbers)
//   api(method, path, body?, headers?)  JSON call to edge-cdp; throws on a status >= 300
//   admin, rest, sdk                    headers: admin token, the project's REST key, the app's SDK key
//   project, app                        the bench project ({project_id, rest_api_key}) and its app ({app_id, sdk_api_key})
//   urls.app, urls.base, ports.app, ports.base   edge-cdp and the yardstick Worker
//   servers.app, servers.base           their wrangler processes ({pid, log()})
//   load({name, url, path?, headers?, body: () => object|string, ops?, connections?, duration? | amount?, timeout?, exact?})
//               one load; `exact: true` times a few long requests to the millisecond (fetch, not autocannon)
//   interleaved([() => load(...)], rounds)   alternates loads in rounds; one merged row per load
//   meter       { available, settle(), measure({name, unit, operations}, fn) -> {value, cost} }:
//               waits for quiet, resets edge-cdp's meter, runs fn, waits until queues drain, reads
//   wrangler    { d1("app"|"base", sql, database?), shardOf(projectId), run(args), state: {app, base} }:
//               local D1 / R2 commands; shardOf names the shard (binding) a project's projection is on
//   memoryOf("app"|"base")   peak and current resident memory of that Worker's workerd
//   state       an object shared by the scenarios of one run (e.g. sdk-warm leaves idle installations)
import { rmSync, writeFileSync } from "node:fs";
import { interleaved, load } from "./lib/load.mjs";
import { createMeter } from "./lib/meter.mjs";
import { costTable, cpuTable, figureTable, scenarioTable, targetsLine } from "./lib/report.mjs";
import { d1, migrate, shardOf, startDev, wrangler } from "./lib/wrangler.mjs";
import { memoryOf } from "./workerd.mjs";

/** The scenario modules, in the order a full run takes them. */
const SCENARIOS = [
  "sdk-warm",
  "sdk-idle",
  "first-contact",
  "login",
  "profile-api",
  "segments",
  "audience",
  // Batch's bulk Custom Data API and a flat-file audience: queued work, before the exports Worker.
  "batch",
  // A Worker of its own: see the module.
  "exports",
  // Its purge covers every project: it runs after the scenarios that read their profiles.
  "privacy",
  // A receiver in this process; the app runs with ALLOW_HTTP_WEBHOOKS on for it.
  "webhooks",
  // Web push to a local push service (the same allowance); the app has a CHANNEL_SECRET_KEY.
  "messaging",
  "campaigns",
  // A second edge-cdp Worker of its own (port BENCH_PORT + 10) with five shards, then a move on this one.
  "shards",
  // Last: its queued work would weigh on the scenarios after it.
  "mass-update",
];

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const SETTINGS = {
  connections: num("BENCH_CONNECTIONS", 16),
  duration: num("BENCH_DURATION", 10),
  // Short rounds keep warm installations warm: workerd evicts an object after 10 s idle.
  rounds: num("BENCH_ROUNDS", 8),
  warm: num("BENCH_WARM", 200),
  idle: num("BENCH_IDLE", 400),
  crowd: num("BENCH_CROWD", 3000),
  metered: num("BENCH_METERED", 200),
  profileConnections: num("BENCH_PROFILE_CONNECTIONS", 2),
  profileRequests: num("BENCH_PROFILE_REQUESTS", 2),
  profileRounds: num("BENCH_PROFILE_ROUNDS", 2),
  profiles: num("BENCH_PROFILES", 1_000_000),
  segmentRounds: num("BENCH_SEGMENT_ROUNDS", 3),
  audience: num("BENCH_AUDIENCE", 1_000_000),
  audienceRounds: num("BENCH_AUDIENCE_ROUNDS", 1),
};
const APP_PORT = num("BENCH_PORT", 8788);
const BASE_PORT = APP_PORT + 1;
const ADMIN = "bench-admin-token";
const APP_VARS = [
  ...["--var", `ADMIN_TOKEN:${ADMIN}`, "--var", "METER:on", "--var", "ALLOW_HTTP_WEBHOOKS:1"],
  // A synchronous update's check within the metered window that follows it, so its cost is counted.
  ...["--var", "PROJECTION_CHECK_DELAY_SECONDS:1"],
  // Channel credentials (each project's VAPID key) are stored encrypted with it: any long random string.
  ...["--var", `CHANNEL_SECRET_KEY:${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll("-", "")],
];
const STATE = { app: ".wrangler/bench", base: ".wrangler/bench-baseline" };
const BASE_CONFIG = "bench/baseline/wrangler.toml";

function selected() {
  const asked = (
    process.argv.slice(2).join(",") ||
    process.env.BENCH_ONLY ||
    (process.env.BENCH_QUICK ? "sdk-warm" : "")
  )
    .split(",")
    .filter(Boolean);
  const unknown = asked.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
  return asked.length ? SCENARIOS.filter((s) => asked.includes(s)) : SCENARIOS;
}

/** Writing a Worker's local state from outside makes `wrangler dev` reload once: let it settle. */
async function settleReload(server) {
  await new Promise((r) => setTimeout(r, 5000));
  for (let i = 0; i < 60; i++) {
    try {
      await fetch(`${server.url}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

let serversForLog = {};

async function main() {
  const names = selected();
  const started = Date.now();
  for (const s of Object.values(STATE)) rmSync(s, { recursive: true, force: true });
  migrate(STATE.app);
  migrate(STATE.base, BASE_CONFIG);
  const servers = {
    app: await startDev(APP_VARS, { port: APP_PORT, state: STATE.app, probe: "/health" }),
    base: await startDev(["--config", BASE_CONFIG], { port: BASE_PORT, state: STATE.base }),
  };
  serversForLog = servers;
  const urls = { app: servers.app.url, base: servers.base.url };

  async function api(method, path, body, headers = {}) {
    const res = await fetch(`${urls.app}${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
  const admin = { Authorization: `Bearer ${ADMIN}` };
  const project = await api("POST", "/v1/admin/projects", { name: "bench" }, admin);
  const app = await api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: "ios", platform: "ios" },
    admin,
  );
  const meter = createMeter(urls.app, admin);
  if (!(await meter.init())) console.error("edge-cdp's meter answered 404: no cost figures in this run.");

  const ctx = {
    env: SETTINGS,
    api,
    admin,
    rest: { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id },
    sdk: { "X-Api-Key": app.sdk_api_key },
    project,
    app,
    urls,
    ports: { app: APP_PORT, base: BASE_PORT },
    servers,
    load: (o) => load({ connections: SETTINGS.connections, duration: SETTINGS.duration, ...o }),
    interleaved,
    meter,
    wrangler: {
      d1: async (who, sql, database = "DB") => {
        d1(STATE[who], sql, who === "base" ? BASE_CONFIG : undefined, database);
        await settleReload(servers[who]);
      },
      shardOf: (projectId) => shardOf(STATE.app, projectId),
      run: wrangler,
      settle: (who) => settleReload(servers[who]),
      state: STATE,
    },
    memoryOf: (who) => memoryOf(servers[who].pid),
    state: {},
  };

  const results = {
    run_at: new Date().toISOString(),
    settings: SETTINGS,
    scenarios_run: names,
    meter: meter.available,
    scenarios: [],
    figures: [],
    targets: {},
    costs: [],
    extra: {},
    seconds: {},
  };
  const file = names.length === SCENARIOS.length ? "bench/results.json" : `bench/results.${names.join("+")}.json`;
  for (const name of names) {
    const t = Date.now();
    console.error(`— ${name}`);
    const { run } = await import(`./scenarios/${name}.mjs`);
    const out = (await run(ctx)) ?? {};
    results.scenarios.push(...(out.scenarios ?? []));
    results.figures.push(...(out.figures ?? []));
    Object.assign(results.targets, out.targets ?? {});
    results.costs.push(...(out.costs ?? []).filter(Boolean));
    Object.assign(results.extra, out.extra ?? {});
    results.seconds[name] = Math.round((Date.now() - t) / 1000);
    // Written after each scenario, so a run that fails later keeps what it measured.
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  }
  results.seconds.total = Math.round((Date.now() - started) / 1000);

  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const print = (s) => s && console.log(`${s}\n`);
  print(
    `edge-cdp benchmark — ${SETTINGS.connections} connections, ${SETTINGS.duration} s per alternating load in ${SETTINGS.rounds} rounds; scenarios: ${names.join(", ")}`,
  );
  print(scenarioTable(results.scenarios));
  print(cpuTable(results.scenarios));
  print(figureTable(results.figures));
  print(costTable(results.costs));
  console.log(targetsLine(results.targets));
  console.log(
    `\n${file}; ${results.seconds.total} s (${Object.entries(results.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
  );
  process.exit(0);
}

main().catch((e) => {
  for (const [who, server] of Object.entries(serversForLog)) console.error(`--- ${who}:\n${server.log().slice(-3000)}`);
  console.error(e);
  process.exit(1);
});
