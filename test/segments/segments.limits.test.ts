import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

async function query(p: Project, where: unknown): Promise<Response> {
  return call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where, count_only: true } });
}

async function update(p: Project, customId: string, attributes: Record<string, unknown>) {
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: [{ identifiers: { custom_id: customId }, attributes }],
  });
  expect(res.status).toBeLessThan(300);
  await res.body?.cancel();
}

/** The item rows D1 holds for one attribute of one custom ID's profile, sorted. */
async function items(p: Project, customId: string, name: string): Promise<string[]> {
  const rows = await (await shardDb(p.projectId))
    .prepare(
      `SELECT t.item FROM profile_attribute_items t JOIN profiles pr
       ON pr.project_id = t.project_id AND pr.profile_id = t.profile_id
     WHERE t.project_id = ? AND pr.custom_id = ? AND t.name = ? ORDER BY t.item`,
    )
    .bind(p.projectId, customId, name)
    .all<{ item: string }>();
  return rows.results.map((r) => r.item);
}

async function count(p: Project, where: unknown): Promise<number> {
  const res = await query(p, where);
  expect(res.status).toBe(200);
  return (await res.json<{ count: number }>()).count;
}

describe("array items are rows of their own, kept in step with the profile", () => {
  it("follows a set, $add, $remove and a delete, and contains reads them", async () => {
    const p = await createProject();
    await update(p, "ada", { tags: ["a", "b"], plan: "pro" });
    await vi.waitFor(async () => expect(await items(p, "ada", "tags")).toEqual(["a", "b"]), { timeout: 20_000 });
    expect(await count(p, { attribute: "tags", op: "contains", value: "b" })).toBe(1);

    await update(p, "ada", { tags: { $add: ["c"], $remove: ["a"] } });
    await vi.waitFor(async () => expect(await items(p, "ada", "tags")).toEqual(["b", "c"]), { timeout: 20_000 });
    expect(await count(p, { attribute: "tags", op: "contains", value: "a" })).toBe(0);
    expect(await count(p, { attribute: "tags", op: "contains", value: "c" })).toBe(1);

    await update(p, "ada", { tags: ["z"] });
    await vi.waitFor(async () => expect(await items(p, "ada", "tags")).toEqual(["z"]), { timeout: 20_000 });

    await update(p, "ada", { tags: null });
    await vi.waitFor(
      async () => {
        const attrs = await (await shardDb(p.projectId))
          .prepare("SELECT count(*) AS n FROM profile_attributes WHERE project_id = ? AND name = 'tags'")
          .bind(p.projectId)
          .first<{ n: number }>();
        expect(attrs?.n).toBe(0);
      },
      { timeout: 20_000 },
    );
    expect(await items(p, "ada", "tags")).toEqual([]);
    expect(await count(p, { attribute: "tags", op: "contains", value: "z" })).toBe(0);
  }, 60_000);

  it("a contains of a value an array cannot hold (a number) matches nothing, its negation everything", async () => {
    const p = await createProject();
    await update(p, "bea", { tags: ["1"] });
    await vi.waitFor(async () => expect(await items(p, "bea", "tags")).toEqual(["1"]), { timeout: 20_000 });
    expect(await count(p, { attribute: "tags", op: "contains", value: 1 })).toBe(0);
    expect(await count(p, { not: { attribute: "tags", op: "contains", value: 1 } })).toBe(1);
    expect(await count(p, { attribute: "tags", op: "contains", value: "1" })).toBe(1);
  }, 60_000);

  it("compiles contains to the item table's index, with no json_each scan", async () => {
    const { compileWhere } = await import("../../src/segments/compile");
    const { SQLiteAsyncDialect } = await import("drizzle-orm/sqlite-core");
    const { sql } = new SQLiteAsyncDialect().sqlToQuery(
      compileWhere({ attribute: "tags", op: "contains", value: "x" }, "project"),
    );
    expect(sql).toContain("profile_attribute_items");
    expect(sql).not.toContain("json_each");
    const plan = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT count(*) FROM profiles p WHERE p.project_id = 'project' AND ${sql.replaceAll("?", "'x'")}`,
    ).all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join("\n")).toMatch(
      /USING (COVERING )?INDEX profile_attribute_items_item_idx \(project_id=\? AND name=\? AND item=\?\)/,
    );
  });
});

describe("a count reads indexes only", () => {
  /** The plan of the count query the route runs for `where`, every parameter a placeholder value. */
  async function countPlan(where: Parameters<typeof import("../../src/segments/compile").compileWhere>[0]) {
    const { compileWhere } = await import("../../src/segments/compile");
    const { SQLiteAsyncDialect } = await import("drizzle-orm/sqlite-core");
    const { sql } = new SQLiteAsyncDialect().sqlToQuery(compileWhere(where, "project"));
    const plan = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT count(*) FROM profiles p WHERE p.project_id = 'project' AND p.state = 'active' AND ${sql.replaceAll("?", "'x'")}`,
    ).all<{ detail: string }>();
    return plan.results.map((r) => r.detail);
  }

  it.each([
    ["eq on text", { attribute: "tier", op: "eq", value: "gold" }, "profile_attributes_text_idx"],
    ["a range on numbers", { attribute: "age", op: "gt", value: 3 }, "profile_attributes_num_idx"],
  ] as const)("%s: covering indexes on both sides, no table row read", async (_, where, attributeIndex) => {
    const plan = await countPlan(where);
    expect(plan.some((d) => d.includes(`COVERING INDEX ${attributeIndex}`))).toBe(true);
    expect(plan.some((d) => d.includes("COVERING INDEX profiles_state_idx"))).toBe(true);
    expect(plan.filter((d) => /^(SEARCH|SCAN) [ap]\b/.test(d) && !d.includes("COVERING"))).toEqual([]);
  });

  it.each([
    ["in of numbers", { attribute: "age", op: "in", value: [3, 4] }, "profile_attributes_num_idx"],
    ["exists of any type", { attribute: "age", op: "exists" }, "profile_attributes_text_idx"],
  ] as const)("%s: reads %s, which holds what it asks, no table row", async (_, where, attributeIndex) => {
    const plan = await countPlan(where as Parameters<typeof countPlan>[0]);
    expect(plan.some((d) => d.includes(`COVERING INDEX ${attributeIndex}`))).toBe(true);
    expect(plan.filter((d) => /^(SEARCH|SCAN) [ap]\b/.test(d) && !d.includes("COVERING"))).toEqual([]);
  });

  it.each([
    ["push_optin true", { push_optin: true }],
    ["push_optin false", { push_optin: false }],
  ] as const)("%s: reads the partial index of opted-in installations, no table row", async (_, where) => {
    const plan = await countPlan(where);
    expect(plan.some((d) => d.includes("COVERING INDEX installations_push_idx"))).toBe(true);
    expect(plan.filter((d) => /^(SEARCH|SCAN) [aip]\b/.test(d) && !d.includes("COVERING"))).toEqual([]);
  });
});

describe("each segment query has a cost budget", () => {
  const many = (n: number, node: (k: number) => unknown) => ({ or: Array.from({ length: n }, (_, k) => node(k)) });

  it("allows an or of 20 contains (index lookups)", async () => {
    const p = await createProject();
    const res = await query(
      p,
      many(20, (k) => ({ attribute: "tags", op: "contains", value: `t${k}` })),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ count: 0, profiles: [], next_cursor: null });
  });

  it.each([
    ["11 ranges", many(11, (k) => ({ attribute: "age", op: "gt", value: k }))],
    ["7 audiences", many(7, (k) => ({ in_audience: `a${k}` }))],
    ["16 neq", many(16, (k) => ({ attribute: "tier", op: "neq", value: `v${k}` }))],
    ["a not of 11 exists", { not: many(11, (k) => ({ attribute: `x${k}`, op: "exists" })) }],
  ])("refuses %s with 400 VALIDATION_FAILED naming the budget, before any audience look-up", async (_, where) => {
    const p = await createProject();
    const res = await query(p, where);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toMatch(/over the budget of 30/);
    expect(error.issues?.[0]?.path).toBe("where");
  });

  it("allows a tree right at the budget (10 ranges)", async () => {
    const p = await createProject();
    const res = await query(
      p,
      many(10, (k) => ({ attribute: "age", op: "gt", value: k })),
    );
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe("segment queries per project are bounded", () => {
  it("answers 429 RATE_LIMITED naming the limit once a project runs too many, and keeps other projects apart", async () => {
    const p = await createProject();
    const other = await createProject();
    let limited: Response | null = null;
    for (let wave = 0; wave < 10 && !limited; wave++) {
      const answers = await Promise.all(Array.from({ length: 80 }, () => query(p, { has_custom_id: true })));
      for (const res of answers) {
        if (res.status === 429 && !limited) limited = res;
        else {
          expect([200, 429]).toContain(res.status);
          await res.body?.cancel();
        }
      }
    }
    expect(limited).not.toBeNull();
    const res = limited as Response;
    expect(res.headers.get("Retry-After")).toBe("10");
    const error = await errorOf(res);
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.message).toContain("at most 60 every 10 s");
    const elsewhere = await query(other, { has_custom_id: true });
    expect(elsewhere.status).toBe(200);
    await elsewhere.body?.cancel();
  }, 120_000);
});
