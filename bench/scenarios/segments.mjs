// Segment count_only over BENCH_PROFILES projected profiles (one in ten has tier = gold),
// seeded straight into both Workers' local D1 with the same SQL. The yardstick runs, on its own
// D1, the SQL edge-cdp's segment compiler makes of {attribute: "tier", op: "eq", value: "gold"}
// (src/segments/compile.ts). Rounds of a few queries each, alternating.
import { median, timed } from "../lib/load.mjs";
import { target } from "../lib/report.mjs";

const seedSql = (projectId, n) => `
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})
  INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
    SELECT '${projectId}', printf('seed-%09d', i), printf('user-%09d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z' FROM n;
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})
  INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, value_num, value_json, version)
    SELECT '${projectId}', printf('seed-%09d', i), 'tier', 'string', CASE i % 10 WHEN 0 THEN 'gold' ELSE 'silver' END, NULL, NULL, 1 FROM n;`;

export async function run(ctx) {
  const { env, project } = ctx;
  const seed = await timed(async () => {
    // On the shard the directory placed the bench project on.
    await ctx.wrangler.d1("app", seedSql(project.project_id, env.profiles), ctx.wrangler.shardOf(project.project_id));
    await ctx.wrangler.d1("base", seedSql(project.project_id, env.profiles));
  });
  const where = { attribute: "tier", op: "eq", value: "gold" };
  const app = () => ctx.api("POST", "/v1/segments/query", { where, count_only: true }, ctx.rest);
  const base = async () => {
    const res = await fetch(`${ctx.urls.base}/segment?project=${project.project_id}`);
    return res.json();
  };
  await app();
  await base();
  const times = { app: [], base: [] };
  const counts = {};
  for (let r = 0; r < env.segmentRounds; r++) {
    for (const [who, fn] of [
      ["base", base],
      ["app", app],
    ]) {
      for (let k = 0; k < 5; k++) {
        const t = await timed(fn);
        times[who].push(t.ms);
        counts[who] = t.value.count;
      }
    }
  }
  const appMs = median(times.app);
  const baseMs = median(times.base);
  const { cost } = await ctx.meter.measure(
    { name: `segment count_only over ${env.profiles.toLocaleString("en")} profiles`, unit: "query", operations: 5 },
    async () => {
      for (let k = 0; k < 5; k++) await app();
    },
  );
  // The slowest query the cost limit still allows here (src/segments/plan.ts): one condition every
  // profile matches; and the shape that once ran for minutes (an and of 20 of them), now refused.
  const broad = { attribute: "tier", op: "in", value: ["gold", "silver"] };
  const slowest = [];
  for (let k = 0; k < 3; k++)
    slowest.push(
      await timed(() => ctx.api("POST", "/v1/segments/query", { where: broad, count_only: true }, ctx.rest)),
    );
  const refused = await timed(async () => {
    const res = await fetch(`${ctx.urls.app}/v1/segments/query`, {
      method: "POST",
      headers: { ...ctx.rest, "Content-Type": "application/json" },
      body: JSON.stringify({ where: { and: Array.from({ length: 20 }, () => broad) }, count_only: true }),
    });
    return { status: res.status, code: (await res.json()).error?.code };
  });
  return {
    figures: [
      {
        figure: `slowest segment query the cost limit allows, ${env.profiles.toLocaleString("en")} profiles: ${JSON.stringify(broad)} (median of 3)`,
        median_ms: median(slowest.map((t) => t.ms)),
        count: slowest[0].value.count,
        and_of_20_of_it: { status: refused.value.status, code: refused.value.code, ms: refused.ms },
      },
      {
        figure: `segment count_only, one indexed attribute condition, ${env.profiles.toLocaleString("en")} profiles (median of ${times.app.length})`,
        median_ms: appMs,
        yardstick_median_ms: baseMs,
        x_yardstick: +(appMs / Math.max(baseMs, 1)).toFixed(2),
        count: counts.app,
        yardstick_count: counts.base,
        seed_ms: seed.ms,
        worker_memory: ctx.memoryOf("app"),
      },
    ],
    targets: { segment_count_1m_median_ms: target(appMs, "<=", 100, " ms") },
    costs: [cost],
  };
}
