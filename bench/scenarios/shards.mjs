// Projection shards (SPEC §11). Two parts:
// 1. The fan-out's cost. A second edge-cdp Worker of its own (port BENCH_PORT + 10, state under
//    .wrangler/bench-shards, config .wrangler/bench-shards.toml: wrangler.toml with shards
//    PROJECTION_0…PROJECTION_4) holds BENCH_SHARD_PROFILES profiles (default 1,000,000) twice:
//    one project on PROJECTION_4 alone, and one split over PROJECTION_0…3 (a quarter on each,
//    every row on the shard fnv1a(profile_id) mod 4 names, the directory listing the four by
//    position). Seeded straight into each shard with bulk SQL, like segments.mjs. The same
//    segment count_only ({tier eq gold}) on each, BENCH_SEGMENT_ROUNDS rounds of 5 alternating:
//    p50 and the ratio split/one. Locally the five databases share this machine's cores; on
//    Cloudflare each is its own database, asked side by side.
//    Then the bytes a profile takes on a shard: BENCH_SIZE_PROFILES profiles (default 100,000)
//    with 2 attributes, then as many with 10, each measured as the growth of PROJECTION_4's
//    page_count × page_size.
// 2. A move, on the Worker under test: BENCH_MOVE_PROFILES profiles (default 5,000) made through
//    SDK first contacts (BENCH_MOVE_SEED_CONNECTIONS at a time, default 32), moved to the other
//    shard while BENCH_MOVE_CONNECTIONS connections (default 8) send SDK batches to other
//    installations: profiles per second and the SDK p99 during the move against 15 s of the same
//    load before it. Then moved back under the meter: the billable units of a move per profile
//    (unless BENCH_MOVE_METERED=0: a move's units grow linearly, so a large run may skip it).
import { rmSync } from "node:fs";
import { median, sleep, timed } from "../lib/load.mjs";
import { measureMove } from "../lib/shard-move.mjs";
import {
  fnv1a,
  migrateShards,
  placementSql,
  SHARDS_CONFIG,
  seedSql,
  shardQuery,
  shardSql,
  writeShardsConfig,
} from "../lib/shards.mjs";
import { startDev } from "../lib/wrangler.mjs";

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const PROFILES = num("BENCH_SHARD_PROFILES", 1_000_000);
const SIZE_PROFILES = num("BENCH_SIZE_PROFILES", 100_000);
const MOVE_PROFILES = num("BENCH_MOVE_PROFILES", 5_000);
const MOVE_CONNECTIONS = num("BENCH_MOVE_CONNECTIONS", 8);
const MOVE_SEED_CONNECTIONS = num("BENCH_MOVE_SEED_CONNECTIONS", 32);
const MOVE_METERED = process.env.BENCH_MOVE_METERED !== "0";
const STATE = ".wrangler/bench-shards";
const SPLIT = ["PROJECTION_0", "PROJECTION_1", "PROJECTION_2", "PROJECTION_3"];
const ALONE = "PROJECTION_4";

/** JSON calls to the Worker at `url`; throws on a status >= 300. */
const caller =
  (url) =>
  async (method, path, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };

/** Writing the Worker's local state from outside makes `wrangler dev` reload: waits it out. */
async function settle(url) {
  await sleep(5000);
  for (let i = 0; i < 60; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {}
    await sleep(500);
  }
}

/** Part 1: the 4-shard count against the 1-shard count, and bytes per profile. */
async function fanOut(ctx) {
  rmSync(STATE, { recursive: true, force: true });
  const names = writeShardsConfig(5);
  migrateShards(STATE, names);
  const port = ctx.ports.app + 10;
  const server = await startDev(
    ["--config", SHARDS_CONFIG, "--var", `ADMIN_TOKEN:${ctx.admin.Authorization.slice(7)}`],
    {
      port,
      state: STATE,
      probe: "/health",
    },
  );
  try {
    const api = caller(server.url);
    const make = (name) => api("POST", "/v1/admin/projects", { name }, ctx.admin);
    const [one, split] = [await make("shards-one"), await make("shards-split")];
    const quarter = PROFILES / SPLIT.length;
    // D1's own size of each shard (size_after), as GET /v1/admin/shards reports it.
    const bytesOf = async (name) =>
      (await api("GET", `/v1/admin/shards?shard=${name}`, undefined, ctx.admin)).shards[0].bytes;
    const emptyBytes = await bytesOf(ALONE);
    const seed = await timed(async () => {
      shardSql(STATE, "DB", placementSql(one.project_id, [ALONE]) + placementSql(split.project_id, SPLIT));
      shardSql(STATE, ALONE, seedSql(one.project_id, { from: 1, to: PROFILES }));
      for (const [k, name] of SPLIT.entries()) {
        const range = { from: k * quarter + 1, to: (k + 1) * quarter, position: k, k: SPLIT.length };
        shardSql(STATE, name, seedSql(split.project_id, range));
      }
    });
    // Each shard holds what the hash puts there: a sample of each checked against fnv1a.
    const misplaced = SPLIT.map(
      (name, k) =>
        shardQuery(
          STATE,
          name,
          `SELECT profile_id FROM profiles WHERE project_id = '${split.project_id}' ORDER BY random() LIMIT 200`,
        ).filter((r) => fnv1a(r.profile_id) % SPLIT.length !== k).length,
    ).reduce((a, b) => a + b, 0);
    await settle(server.url);
    const oneBytes = (await bytesOf(ALONE)) - emptyBytes;

    const where = { attribute: "tier", op: "eq", value: "gold" };
    const rest = (p) => ({ Authorization: `Bearer ${p.rest_api_key}`, "X-Project-Id": p.project_id });
    const count = (p) => () => api("POST", "/v1/segments/query", { where, count_only: true }, rest(p));
    const runs = { one: count(one), split: count(split) };
    await runs.one();
    await runs.split();
    const times = { one: [], split: [] };
    const counts = {};
    for (let r = 0; r < ctx.env.segmentRounds; r++) {
      for (const who of r % 2 ? ["split", "one"] : ["one", "split"]) {
        for (let k = 0; k < 5; k++) {
          const t = await timed(runs[who]);
          times[who].push(t.ms);
          counts[who] = t.value.count;
        }
      }
    }
    const [oneMs, splitMs] = [median(times.one), median(times.split)];
    const { shards } = await api("GET", "/v1/admin/shards", undefined, ctx.admin);

    // Bytes a profile takes with 2 and with 10 attributes: PROJECTION_4's growth for each, as D1
    // counts it (whole pages: rows inserted in key order fill them, random ones leave room).
    const sizes = {};
    for (const attributes of [2, 10]) {
      const before = await bytesOf(ALONE);
      // A project ID and profile IDs as long as real ones: each is in every index entry.
      const project = crypto.randomUUID();
      shardSql(STATE, ALONE, seedSql(project, { from: 1, to: SIZE_PROFILES, attributes, uuids: true }));
      await settle(server.url);
      const per = ((await bytesOf(ALONE)) - before) / SIZE_PROFILES;
      sizes[`${attributes}_attributes`] = {
        bytes_per_profile: Math.round(per),
        profiles_per_10_gb_shard: Math.round(10e9 / per),
      };
    }
    return {
      figure: `segment count_only {tier eq gold}, ${PROFILES.toLocaleString("en")} profiles: one project split over 4 shards against one on 1 shard (median of ${times.one.length} each, alternating)`,
      one_shard_p50_ms: oneMs,
      four_shards_p50_ms: splitMs,
      x_four_over_one: +(splitMs / Math.max(oneMs, 1)).toFixed(2),
      counts,
      seed_ms: seed.ms,
      misplaced_in_sample_of_800: misplaced,
      rows_by_shard: shards.map((s) => ({ shard: s.shard, rows: s.rows, bytes: s.bytes })),
      bytes_per_profile_1_attribute_short_ids: Math.round(oneBytes / PROFILES),
      sizes,
    };
  } finally {
    server.child.kill("SIGTERM");
    await sleep(2000);
    // Its databases hold about 2 GB: nothing after this scenario reads them.
    rmSync(STATE, { recursive: true, force: true });
  }
}

export async function run(ctx) {
  const fan = await fanOut(ctx);
  const m = await measureMove(ctx, {
    n: MOVE_PROFILES,
    connections: MOVE_CONNECTIONS,
    seedConnections: MOVE_SEED_CONNECTIONS,
    metered: MOVE_METERED,
  });
  // The waits stay; the rest grows with the profiles.
  const per = (x) => Math.round((m.waits_ms + ((m.move.ms - m.waits_ms) * x) / m.projected) / 1000);
  return {
    figures: [
      fan,
      {
        figure: `a project move of ${m.projected.toLocaleString("en")} profiles (BENCH_MOVE_PROFILES=${m.n}) ${m.from} → ${m.to}, under ${MOVE_CONNECTIONS} connections of SDK batches to other installations`,
        profiles_per_s_copy: m.profiles_per_s_copy,
        profiles_per_s_whole_move: m.profiles_per_s_whole,
        move_ms: m.move.ms,
        copy_ms: m.copy_ms,
        waits_ms: m.waits_ms,
        phases_ms: m.move.phases,
        sdk_before: m.before,
        sdk_during: m.during,
        x_sdk_p99_during_over_before: +(m.during.p99_ms / Math.max(m.before.p99_ms, 1)).toFixed(2),
        seed: { ms: m.seed_ms, ...m.seed, projected: m.projected },
        check: {
          ...m.check,
          on_target_equals_n: m.check.after_move[m.to] === m.projected && m.check.after_move[m.from] === 0,
        },
        extrapolated_s: {
          note: "not measured: the waits as measured plus the rest of the move scaled linearly from this run",
          "100,000_profiles": per(100_000),
          "1,000,000_profiles": per(1_000_000),
        },
      },
    ],
    costs: m.cost ? [m.cost] : [],
  };
}
