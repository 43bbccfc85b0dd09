import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { directoryTiming, positionOf, projectionFor } from "../../src/db/shards";
import { run } from "../privacy/support";
import { createProject, type Project } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { placeOn } from "../support/shards";

/*
 * While a split move writes both placements, each profile's rows land on its old shard and on
 * the shard its hash names in the new placement, and nowhere else: a privacy remove of a
 * subject whose profiles hash to different shards tombstones each on its own.
 */

const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;
const TARGET = ["PROJECTION_2", "PROJECTION_0"];
let p: Project;

async function stateOn(shard: string, profileId: string) {
  const row = await d1(shard)
    .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
    .bind(p.projectId, profileId)
    .first<{ state: string }>();
  return row?.state ?? null;
}

beforeAll(async () => {
  directoryTiming.ttlMs = 0;
  p = await createProject();
  await placeOn(p.projectId, "PROJECTION_1");
  const now = new Date().toISOString();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, to_shards, phase, status, created_at, updated_at)
       VALUES (?, ?, 'PROJECTION_1', ?, ?, 'dual', 'pending', ?, ?)`,
    ).bind(crypto.randomUUID(), p.projectId, TARGET[0], JSON.stringify(TARGET), now, now),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
});

afterAll(() => {
  directoryTiming.ttlMs = 10_000;
});

describe("a project whose split move writes both placements", () => {
  it("writes each profile on its old shard and on its new shard by hash", async () => {
    const projection = await projectionFor(env, p.projectId);
    expect(projection.one().name).toBe("PROJECTION_1");
    for (const id of ["a", "b", "c", "d", "e"]) {
      expect(projection.writesFor(id).map((s) => s.name)).toEqual([
        "PROJECTION_1",
        TARGET[positionOf(id, 2)] as string,
      ]);
    }
    expect(projection.writeShards.map((s) => s.name)).toEqual(["PROJECTION_1", ...TARGET]);
  });

  it("tombstones each profile of a removed subject on its own new shard only", async () => {
    // A second device's anonymous profile, orphaned when it signs in to a profile the first
    // device made: the subject has two profiles. Tries until the two hash to different shards
    // of the new placement.
    let pair: { orphan: string; signedIn: string; customId: string } | null = null;
    for (let k = 0; k < 16 && !pair; k++) {
      await batch(p, crypto.randomUUID(), [identify(`split-${k}`)]);
      const device = crypto.randomUUID();
      const anonymous = await batch(p, device, [attributes({ k })]);
      const signedIn = await batch(p, device, [identify(`split-${k}`)]);
      if (signedIn.profile_id === anonymous.profile_id) continue;
      if (positionOf(anonymous.profile_id, 2) !== positionOf(signedIn.profile_id, 2)) {
        pair = { orphan: anonymous.profile_id, signedIn: signedIn.profile_id, customId: `split-${k}` };
      }
    }
    if (!pair) throw new Error("no device gave two profiles on two shards");
    const { orphan, signedIn, customId } = pair;
    const home = (id: string) => TARGET[positionOf(id, 2)] as string;
    await vi.waitFor(
      async () => {
        expect(await stateOn("PROJECTION_1", signedIn)).toBe("active");
        expect(await stateOn(home(signedIn), signedIn)).toBe("active");
      },
      { timeout: 20_000, interval: 100 },
    );
    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: customId } });
    expect(done.status).toBe("done");
    expect(done.receipt?.profile_ids.sort()).toEqual([orphan, signedIn].sort());
    for (const id of [orphan, signedIn]) {
      expect(await stateOn("PROJECTION_1", id), id).toBe("removed");
      expect(await stateOn(home(id), id), id).toBe("removed");
      const elsewhere = TARGET.find((s) => s !== home(id)) as string;
      expect(await stateOn(elsewhere, id), `${id} on ${elsewhere}`).toBeNull();
    }
  });
});
