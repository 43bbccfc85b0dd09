import { type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { beforeAll, describe, expect, it } from "vitest";
import { compileWhere } from "../../src/segments/compile";
import { PROBE_BUDGET, planWhere } from "../../src/segments/plan";
import type { WhereNode } from "../../src/segments/where";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

const dialect = new SQLiteAsyncDialect();
/** The route's probe, on the project's shard. */
const probeOn = (projectId: string) => async (q: SQL) =>
  (await drizzle(await shardDb(projectId)).get<{ n: number }>(q))?.n ?? 0;

/** The count statement the route runs for `condition`, as text and parameters. */
const countOf = (projectId: string, condition: SQL) =>
  dialect.sqlToQuery(
    sql`SELECT count(*) AS n FROM profiles p WHERE p.project_id = ${projectId} AND p.state = 'active' AND ${condition}`,
  );

async function count(projectId: string, condition: SQL): Promise<number> {
  const q = countOf(projectId, condition);
  return (
    (
      await (
        await shardDb(projectId)
      )
        .prepare(q.sql)
        .bind(...q.params)
        .first<{ n: number }>()
    )?.n ?? -1
  );
}

/**
 * `n` active profiles written straight into the projection with a recursive CTE (one
 * statement), each with `tier` (gold, or `rare` for the first `rare`) and `age` = its index.
 */
async function seed(p: Project, n: number, rare = 0): Promise<void> {
  const series = `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2)`;
  const db = await shardDb(p.projectId);
  await db.batch([
    db
      .prepare(
        `${series} INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
       SELECT ?1, printf('seed-%09d', i), printf('user-%09d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM s`,
      )
      .bind(p.projectId, n),
    db
      .prepare(
        `${series} INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, version)
       SELECT ?1, printf('seed-%09d', i), 'tier', 'string', CASE WHEN i <= ?3 THEN 'rare' ELSE 'gold' END, 1 FROM s`,
      )
      .bind(p.projectId, n, rare),
    db
      .prepare(
        `${series} INSERT INTO profile_attributes (project_id, profile_id, name, type, value_num, version)
       SELECT ?1, printf('seed-%09d', i), 'age', 'number', i, 1 FROM s`,
      )
      .bind(p.projectId, n),
  ]);
}

const broad = { attribute: "tier", op: "in", value: ["gold", "rare"] };
const and20 = { and: Array.from({ length: 20 }, () => broad) };

async function query(p: Project, where: unknown): Promise<Response> {
  return call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where, count_only: true } });
}

describe("an and of conditions that each match the whole project", () => {
  it("runs as one driving list and a per-profile check for each other condition, not a list each", async () => {
    const p = await createProject();
    await seed(p, 2_000);
    const plan = await planWhere(and20 as WhereNode, p.projectId, probeOn(p.projectId));
    if (!plan.ok) throw new Error(`refused: ${plan.probes}`);
    expect(plan.probes).toBe(Math.ceil(2_000 * (20 + 1 / 8)));
    expect(await count(p.projectId, plan.condition)).toBe(2_000);

    const q = countOf(p.projectId, plan.condition);
    const details = (
      await (
        await shardDb(p.projectId)
      )
        .prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
        .bind(...q.params)
        .all<{ detail: string }>()
    ).results.map((r) => r.detail);
    // The plain tree built 20 lists of every profile and probed each profile in all of them.
    expect(details.filter((d) => d.startsWith("LIST SUBQUERY"))).toHaveLength(1);
    // Each other condition: one seek on the attribute table's primary key for the profile.
    expect(details.filter((d) => /^SEARCH a .*INDEX \S+ \(project_id=\? AND profile_id=\?/.test(d))).toHaveLength(19);
    expect(details.filter((d) => d.startsWith("SCAN"))).toEqual([]);
    expect(details).toContain(
      "SEARCH p USING COVERING INDEX profiles_state_idx (project_id=? AND state=? AND profile_id=?)",
    );
  });

  describe("on a project too large for it", () => {
    let p: Project;
    // Past PROBE_BUDGET / (15 + 1/8) profiles, neither an and of 20 of them nor a walk of
    // every profile with 15 probes each can fit (a not of 15 is within the static budget).
    const profiles = Math.ceil(PROBE_BUDGET / 15) + 1_000;
    beforeAll(async () => {
      p = await createProject();
      await seed(p, profiles, 10);
    }, 60_000);

    it.each([
      ["an and of 20", and20, /every condition of its and matches too many profiles/],
      [
        "a not of an and of 15 (every profile, 15 probes each)",
        { not: { and: and20.and.slice(5) } },
        /checked against every profile/,
      ],
    ])("refuses %s with 400 VALIDATION_FAILED that says how to narrow it", async (_, where, hint) => {
      const res = await query(p, where);
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.message).toMatch(
        /^This where tree would cost at least \d+ index probes on this project's profiles, over the limit of 1250000 a query: /,
      );
      expect(error.message).toMatch(hint);
      expect(error.issues?.[0]?.path).toBe("where");
    });

    it.each([
      ["one of those conditions", broad, profiles],
      [
        "the same and led by a selective condition",
        { and: [...and20.and.slice(1), { attribute: "tier", op: "eq", value: "rare" }] },
        10,
      ],
      ["a neq", { attribute: "tier", op: "neq", value: "rare" }, profiles - 10],
      ["an or of two of them", { or: [broad, { attribute: "age", op: "gt", value: 0 }] }, profiles],
    ])("answers %s", async (_, where, expected) => {
      const res = await query(p, where);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ count: expected, profiles: [], next_cursor: null });
    });
  });
});

describe("every plan answers what the plain tree answers", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
    await seed(p, 40, 5);
    const rows = [
      // Some profiles are not active, some have no custom ID, some hold tags, and one profile
      // has two iOS installations (an installation set holds it twice).
      "UPDATE profiles SET state = 'deleted' WHERE project_id = ?1 AND profile_id IN ('seed-000000002', 'seed-000000030')",
      "UPDATE profiles SET custom_id = NULL WHERE project_id = ?1 AND profile_id > 'seed-000000035'",
      `INSERT INTO profile_attribute_items (project_id, profile_id, name, item, version)
         SELECT ?1, profile_id, 'tags', 'x', 1 FROM profiles WHERE project_id = ?1 AND profile_id < 'seed-000000012'`,
      `INSERT INTO installations (project_id, installation_id, profile_id, platform, push_optin, last_seen_at, version) VALUES
         (?1, 'i1', 'seed-000000003', 'ios', 1, '2026-01-01', 1), (?1, 'i2', 'seed-000000003', 'ios', 0, '2026-01-01', 1),
         (?1, 'i3', 'seed-000000020', 'android', 1, '2026-01-01', 1)`,
    ];
    const db = await shardDb(p.projectId);
    await db.batch(rows.map((r) => db.prepare(r).bind(p.projectId)));
  });

  const tier = (value: string) => ({ attribute: "tier", op: "eq", value });
  const age = (op: string, value: number) => ({ attribute: "age", op, value });
  it.each<[string, unknown]>([
    ["an and led by a set", { and: [age("gt", 10), tier("gold"), { has_custom_id: true }] }],
    [
      "an and with negations and an or",
      { and: [age("lte", 30), { not: tier("rare") }, { or: [age("lt", 5), age("gt", 25)] }] },
    ],
    [
      "an and with a neq and push_optin false",
      {
        and: [
          { attribute: "tier", op: "neq", value: "rare" },
          { push_optin: false },
          age("lt", 25),
          { or: [{ platform: "ios" }, age("gt", 10)] },
        ],
      },
    ],
    [
      "an and nested in an and",
      { and: [{ and: [age("gte", 3), { attribute: "tags", op: "contains", value: "x" }] }, age("lt", 9)] },
    ],
    ["an or of sets (a profile twice in one)", { or: [{ platform: "ios" }, { push_optin: true }, tier("rare")] }],
    ["an or of seven sets", { or: Array.from({ length: 7 }, (_, k) => age("eq", k * 3)) }],
    ["a not of an or", { not: { or: [tier("rare"), { attribute: "tags", op: "contains", value: "x" }] } }],
    ["an or holding an and", { or: [{ and: [age("gt", 30), tier("gold")] }, { has_custom_id: false }] }],
    ["an and of negations only", { and: [{ not: age("gt", 20) }, { attribute: "tier", op: "neq", value: "gold" }] }],
    [
      "a contains of a number in an and",
      { and: [age("gt", 1), { not: { attribute: "tags", op: "contains", value: 1 } }] },
    ],
  ])("%s", async (_, tree) => {
    const where = tree as WhereNode;
    const plan = await planWhere(where, p.projectId, probeOn(p.projectId));
    if (!plan.ok) throw new Error("refused");
    const expected = await count(p.projectId, compileWhere(where, p.projectId));
    expect(expected).toBeGreaterThan(0);
    expect(await count(p.projectId, plan.condition)).toBe(expected);
  });
});
