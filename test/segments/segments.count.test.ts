import { describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

interface Answer {
  count: number;
  profiles: { profile_id: string; custom_id: string | null }[];
  next_cursor: string | null;
}

async function query(p: Project, body: Record<string, unknown>): Promise<Answer> {
  const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  return res.json<Answer>();
}

/**
 * Profiles written straight into the projection as it keeps them: active ones with `tier: gold`,
 * others with no attribute rows (D1 keeps active profiles' attributes only); their IDs.
 */
async function seed(p: Project, n: number, state = "active"): Promise<string[]> {
  const ids = Array.from({ length: n }, () => crypto.randomUUID());
  const now = new Date().toISOString();
  const db = await shardDb(p.projectId);
  await db.batch(
    ids.flatMap((id) => [
      db
        .prepare(
          `INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at)
         VALUES (?, ?, ?, ?, 1, ?, ?)`,
        )
        .bind(p.projectId, id, `user-${id}`, state, now, now),
      ...(state === "active"
        ? [
            db
              .prepare(
                `INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, version)
               VALUES (?, ?, 'tier', 'string', 'gold', 1)`,
              )
              .bind(p.projectId, id),
          ]
        : []),
    ]),
  );
  return ids;
}

const gold = { attribute: "tier", op: "eq", value: "gold" };

describe("segment count: counted for count_only and the first page, carried by the cursor", () => {
  it("a page read with a cursor answers the first page's count without counting again", async () => {
    const p = await createProject();
    await seed(p, 5);
    const first = await query(p, { where: gold, limit: 2 });
    expect(first.count).toBe(5);
    expect(first.next_cursor).not.toBeNull();

    // Three more matches: a recount would see 8.
    await seed(p, 3);
    const second = await query(p, { where: gold, limit: 2, cursor: first.next_cursor });
    expect(second.count).toBe(5);
    expect(second.profiles).toHaveLength(2);
    expect((second.profiles[0]?.profile_id ?? "") > (first.profiles[1]?.profile_id ?? "")).toBe(true);

    // A new first page and count_only count again.
    expect((await query(p, { where: gold, limit: 2 })).count).toBe(8);
    expect(await query(p, { where: gold, count_only: true })).toEqual({ count: 8, profiles: [], next_cursor: null });
  });

  it("carries the count through every page, to the last", async () => {
    const p = await createProject();
    const ids = await seed(p, 7);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await query(p, { where: gold, limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.count).toBe(7);
      seen.push(...page.profiles.map((x) => x.profile_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].sort());
  });

  it("a first page that holds every match answers its length, and orphans never count", async () => {
    const p = await createProject();
    await seed(p, 3);
    await seed(p, 2, "orphaned");
    expect(await query(p, { where: gold, limit: 3 })).toMatchObject({ count: 3, next_cursor: null });
    expect(await query(p, { where: gold, limit: 2 })).toMatchObject({ count: 3 });
    expect((await query(p, { where: gold, count_only: true })).count).toBe(3);
  });

  it("a cursor without a count (as issued before counts were carried) still pages, and counts", async () => {
    const p = await createProject();
    const ids = (await seed(p, 4)).sort();
    const legacy = btoa(ids[1] ?? "").replaceAll("=", "");
    const page = await query(p, { where: gold, limit: 10, cursor: legacy });
    expect(page).toEqual({
      count: 4,
      profiles: ids.slice(2).map((id) => ({ profile_id: id, custom_id: `user-${id}` })),
      next_cursor: null,
    });
  });
});
