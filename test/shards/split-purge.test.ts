import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAY, purge, resultsFor, setInactivity } from "../purge/support";
import { call, createProject, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { placeOn } from "../support/shards";

/*
 * The purge over a project split across three shards: its pages nominate from every shard in
 * profile ID order, each inactive profile is removed once, and its tombstone stays on its shard.
 */

const SHARDS = ["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"];
const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;
// Placed by a hash of their random profile IDs: 12 missed one of three shards about one run in
// 40; 30 miss one about one run in 60,000.
const PEOPLE = Array.from({ length: 30 }, (_, k) => `sleeper-${k}`);

describe("the purge on a split project", () => {
  it("removes every inactive profile once, from whichever shard holds it", async () => {
    const p = await createProject();
    await placeOn(p.projectId, SHARDS);
    await setInactivity(p, 30);
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: PEOPLE.map((custom_id) => ({ identifiers: { custom_id }, attributes: { a: 1 } })),
    });
    expect(res.status).toBe(202);
    await waitForProjection(p.projectId, [], PEOPLE);
    const held = new Map<string, string>();
    let last = 0;
    for (const s of SHARDS) {
      const { results } = await d1(s)
        .prepare("SELECT profile_id, last_activity_at FROM profiles WHERE project_id = ? AND state = 'active'")
        .bind(p.projectId)
        .all<{ profile_id: string; last_activity_at: string }>();
      for (const r of results) {
        held.set(r.profile_id, s);
        last = Math.max(last, Date.parse(r.last_activity_at));
      }
    }
    expect(held.size).toBe(PEOPLE.length);
    expect(new Set(held.values()).size).toBe(SHARDS.length);

    const dry = await purge({ as_of: new Date(last + 31 * DAY).toISOString(), dry_run: true });
    expect(
      resultsFor(dry, p)
        .map((r) => r.profile_id)
        .sort(),
    ).toEqual([...held.keys()].sort());

    const job = await purge({ as_of: new Date(last + 31 * DAY).toISOString() });
    const results = resultsFor(job, p);
    expect(results.map((r) => [r.profile_id, r.outcome]).sort()).toEqual(
      [...held.keys()].sort().map((id) => [id, "removed"]),
    );
    for (const [profileId, shard] of held) {
      for (const s of SHARDS) {
        const row = await d1(s)
          .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
          .bind(p.projectId, profileId)
          .first<{ state: string }>();
        expect(row?.state ?? null, `${profileId} on ${s}`).toBe(s === shard ? "removed" : null);
      }
    }
    expect((await profileBy(p, { custom_id: PEOPLE[0] as string })).status).toBe(404);
  });
});
