import { describe, expect, it } from "vitest";
import { call, createProject, restHeaders } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { shardDb } from "../support/shards";
import { DAY, lastActivity, projectedRow, purge, resultsFor, setInactivity } from "./support";

/** Rows of `table` in the project that match `where` (a column list bound to `values`, the project's ID first). */
async function rows(table: string, where: string, values: readonly unknown[]): Promise<number> {
  const row = await (await shardDb(values[0] as string))
    .prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...values)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("a purged profile in D1", () => {
  it("leaves only its tombstone: no attributes, array items, installations or audience memberships", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const device = crypto.randomUUID();
    const customId = "purge-every-row";
    const who = await batch(p, device, [identify(customId), attributes({ tier: "gold", tags: ["a", "b"] })]);
    for (const [name, type, id] of [
      ["purge-by-custom-id", "custom_ids", customId],
      ["purge-by-installation", "installation_ids", device],
    ] as const) {
      expect((await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type } })).status).toBe(201);
      const put = await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids: [id] } });
      expect(put.status).toBeLessThan(300);
    }
    await projectedRow(p, who.profile_id);
    const byProfile = ["project_id = ? AND profile_id = ?", [p.projectId, who.profile_id]] as const;
    // Every table holds the profile before the purge: the test would see a row left behind.
    expect(await rows("profile_attributes", ...byProfile)).toBeGreaterThan(0);
    expect(await rows("profile_attribute_items", ...byProfile)).toBeGreaterThan(0);
    expect(await rows("installations", ...byProfile)).toBe(1);
    expect(await rows("audience_members", "project_id = ?", [p.projectId])).toBe(2);

    const last = await lastActivity(p, { custom_id: customId });
    const job = await purge({ as_of: new Date(last + 31 * DAY).toISOString() });
    expect(resultsFor(job, p).map((r) => r.outcome)).toEqual(["removed"]);

    expect(await rows("profile_attributes", ...byProfile)).toBe(0);
    expect(await rows("profile_attribute_items", ...byProfile)).toBe(0);
    expect(
      await rows("installations", "project_id = ? AND (profile_id = ? OR installation_id = ?)", [
        p.projectId,
        who.profile_id,
        device,
      ]),
    ).toBe(0);
    expect(await rows("audience_members", "project_id = ?", [p.projectId])).toBe(0);
    const tomb = await (await shardDb(p.projectId))
      .prepare("SELECT state, custom_id FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(...byProfile[1])
      .first<{ state: string; custom_id: string | null }>();
    expect(tomb).toEqual({ state: "removed", custom_id: null });
    const sizes = await (await shardDb(p.projectId))
      .prepare("SELECT size FROM audiences WHERE project_id = ?")
      .bind(p.projectId)
      .all();
    expect(sizes.results.map((r) => r.size)).toEqual([0, 0]);
  });
});
