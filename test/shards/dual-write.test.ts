import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { directoryTiming, projectionFor } from "../../src/db/shards";
import { run } from "../privacy/support";
import { createProject, type Project } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { placeOn } from "../support/shards";

/*
 * While a move's row says writes go to both shards, the projection and a privacy remove write
 * both, and reads still come from the shard the directory names.
 */

const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;
let p: Project;

async function profileOn(shard: string, profileId: string) {
  return d1(shard)
    .prepare("SELECT state, version FROM profiles WHERE project_id = ? AND profile_id = ?")
    .bind(p.projectId, profileId)
    .first<{ state: string; version: number }>();
}

beforeAll(async () => {
  // Every isolate here reads the directory's epoch on each call: the move's row is seen at once.
  directoryTiming.ttlMs = 0;
  p = await createProject();
  await placeOn(p.projectId, "PROJECTION_1");
  const now = new Date().toISOString();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, phase, status, created_at, updated_at)
       VALUES (?, ?, 'PROJECTION_1', 'PROJECTION_2', 'dual', 'pending', ?, ?)`,
    ).bind(crypto.randomUUID(), p.projectId, now, now),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
});

afterAll(() => {
  directoryTiming.ttlMs = 10_000;
});

describe("a project whose move writes both shards", () => {
  it("reads from its own shard and writes both", async () => {
    const projection = await projectionFor(env, p.projectId);
    expect(projection.one().name).toBe("PROJECTION_1");
    expect(projection.writesFor("any").map((s) => s.name)).toEqual(["PROJECTION_1", "PROJECTION_2"]);
  });

  it("has the projection land on both shards, at the same version", async () => {
    const device = crypto.randomUUID();
    const who = await batch(p, device, [identify("both"), attributes({ tier: "gold" })]);
    await vi.waitFor(
      async () => {
        const [one, two] = [
          await profileOn("PROJECTION_1", who.profile_id),
          await profileOn("PROJECTION_2", who.profile_id),
        ];
        expect(one?.state).toBe("active");
        expect(two).toEqual(one);
      },
      { timeout: 20_000, interval: 100 },
    );
    for (const shard of ["PROJECTION_1", "PROJECTION_2"]) {
      const installation = await d1(shard)
        .prepare("SELECT profile_id FROM installations WHERE project_id = ? AND installation_id = ?")
        .bind(p.projectId, device)
        .first<{ profile_id: string }>();
      expect(installation?.profile_id, shard).toBe(who.profile_id);
    }
  });

  it("has a privacy remove leave its tombstone on both shards", async () => {
    const device = crypto.randomUUID();
    const who = await batch(p, device, [identify("erased"), attributes({ tier: "gold" })]);
    await vi.waitFor(async () => expect((await profileOn("PROJECTION_2", who.profile_id))?.state).toBe("active"), {
      timeout: 20_000,
      interval: 100,
    });
    expect((await run(p, { type: "remove", identifier: { type: "custom_id", value: "erased" } })).status).toBe("done");
    for (const shard of ["PROJECTION_1", "PROJECTION_2"]) {
      expect((await profileOn(shard, who.profile_id))?.state, shard).toBe("removed");
      const left = await d1(shard)
        .prepare(
          "SELECT (SELECT count(*) FROM profile_attributes WHERE project_id = ?1 AND profile_id = ?2) + (SELECT count(*) FROM installations WHERE project_id = ?1 AND installation_id = ?3) AS n",
        )
        .bind(p.projectId, who.profile_id, device)
        .first<{ n: number }>();
      expect(left?.n, shard).toBe(0);
    }
  });
});
