import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { projectionFor, shard } from "../../src/db/shards";
import { type ReplayCursor, replayPage, replayPaging } from "../../src/projection/replay";
import { onDemandExport } from "../exports/helpers";
import { run } from "../privacy/support";
import { purge, resultsFor, setInactivity } from "../purge/support";
import { adminHeaders, call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { crewOf, instantMoves, moveDone, placeOn, projectionDb } from "../support/shards";

/*
 * Audiences (both APIs), on-demand exports, privacy removes and the purge, before a move, while
 * it writes both shards (dual), while it copies (copy), after the flip while it still writes
 * both (flipped), and after it: reads answer from the directory's shard, removals reach both
 * shards, and a staged move then resumed to its end brings back nothing that was removed.
 */

const d1 = projectionDb;
const USERS = ["ann", "ben", "cid", "dee", "gone"];
const DEVICE = "00000000-0000-4000-8000-0000000fa5e1";
const FROM = "PROJECTION_1";
const TO = "PROJECTION_2";
instantMoves();

type Phase = "before" | "dual" | "copy" | "flipped" | "after";

async function seeded(): Promise<Project> {
  const p = await createProject();
  await placeOn(p.projectId, FROM);
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: USERS.map((u, k) => ({ identifiers: { custom_id: u }, attributes: { tier: k % 2 ? "silver" : "gold" } })),
  });
  expect(res.status).toBe(202);
  await batch(p, DEVICE, [identify("ann")]);
  await crewOf(p, ["ann", "ben", "gone"]);
  await waitForProjection(p.projectId, [DEVICE], USERS);
  return p;
}

async function stageMove(p: Project, phase: "dual" | "copy" | "flipped"): Promise<string> {
  const id = crypto.randomUUID();
  let cursor: ReplayCursor | null = null;
  if (phase !== "dual") {
    const paging = { ...replayPaging };
    Object.assign(replayPaging, { profiles: 2 });
    try {
      cursor = await replayPage(env, p.projectId, shard(env, FROM), shard(env, TO));
      while (phase === "flipped" && cursor) {
        cursor = await replayPage(env, p.projectId, shard(env, FROM), shard(env, TO), cursor);
      }
    } finally {
      Object.assign(replayPaging, paging);
    }
  }
  const now = new Date().toISOString();
  // Pending with no message queued: the move stays in its phase until the test resumes it.
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, phase, cursor, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    ).bind(id, p.projectId, FROM, TO, phase, cursor && JSON.stringify(cursor), now, now),
    ...(phase === "flipped"
      ? [env.DB.prepare("UPDATE project_shards SET shard = ? WHERE project_id = ?").bind(TO, p.projectId)]
      : []),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
  return id;
}

const batchHeaders = (p: Project) => ({ Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId });

async function audienceSizes(p: Project) {
  const v1 = await call("GET", "/v1/audiences/crew", { headers: restHeaders(p) });
  expect(v1.status).toBe(200);
  const view = await call("GET", "/2.1/audiences/view?name=crew", { headers: batchHeaders(p) });
  expect(view.status).toBe(200);
  return { v1: (await v1.json<{ size: number }>()).size, batch: (await view.json<{ nb_ids: number }>()).nb_ids };
}

/** The custom IDs an on-demand export of the gold tier lists. */
async function exportGold(p: Project): Promise<string[]> {
  const text = await onDemandExport(p, {
    type: "profiles",
    where: { attribute: "tier", op: "eq", value: "gold" },
    fields: ["custom_id"],
  });
  return text.split("\r\n").slice(1, -1).sort();
}

/** The profile's row on each shard named (null where it has none). */
async function statesOn(shards: string[], p: Project, profileId: string) {
  const out: Record<string, string | null> = {};
  for (const s of shards) {
    const row = await d1(s)
      .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, profileId)
      .first<{ state: string }>();
    out[s] = row?.state ?? null;
  }
  return out;
}

async function activeOn(shardName: string, p: Project) {
  const row = await d1(shardName)
    .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ? AND state = 'active'")
    .bind(p.projectId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe.each<Phase>(["before", "dual", "copy", "flipped", "after"])("a move, %s", (phase) => {
  it("serves audiences, exports, privacy removes and the purge from the right shard, on both while it writes both", async () => {
    const p = await seeded();
    const moving = phase === "dual" || phase === "copy" || phase === "flipped";
    let moveId: string | null = null;
    if (moving) moveId = await stageMove(p, phase as "dual" | "copy" | "flipped");
    if (phase === "after") {
      const res = await call("POST", `/v1/admin/projects/${p.projectId}/move`, {
        headers: adminHeaders,
        body: { shard: TO },
      });
      expect(res.status).toBe(202);
      await moveDone((await res.json<{ request_id: string }>()).request_id);
    }
    const reads = phase === "before" || phase === "dual" || phase === "copy" ? FROM : TO;
    const projection = await projectionFor(env, p.projectId);
    expect(projection.one().name).toBe(reads);
    const writes = projection.writeShards.map((s) => s.name).sort();
    expect(writes).toEqual(moving ? [FROM, TO] : [reads]);

    // Audiences: read through both APIs; changed outside a move, held (409, retry) during one.
    expect(await audienceSizes(p)).toEqual({ v1: 3, batch: 3 });
    const put = await call("PUT", "/v1/audiences/crew", {
      headers: restHeaders(p),
      body: { ids: ["ann", "ben", "gone"] },
    });
    const update = await call("POST", "/2.1/audiences/update", {
      headers: batchHeaders(p),
      body: { name: "crew", ids: [{ action: "add", id: "ben" }] },
    });
    expect([put.status, update.status]).toEqual(moving ? [409, 409] : [200, 202]);

    // On-demand export, from the shard the directory names.
    expect(await exportGold(p)).toEqual(["ann", "cid", "gone"]);

    // A privacy remove: gone from reads, tombstoned on every shard the project writes.
    const gone = await profileBy(p, { custom_id: "gone" });
    const goneId = (gone.body as { profile_id: string }).profile_id;
    expect((await run(p, { type: "remove", identifier: { type: "custom_id", value: "gone" } })).status).toBe("done");
    expect((await profileBy(p, { custom_id: "gone" })).status).toBe(404);
    expect(await statesOn(writes, p, goneId)).toEqual(Object.fromEntries(writes.map((s) => [s, "removed"])));
    expect(await exportGold(p)).toEqual(["ann", "cid"]);
    expect(await audienceSizes(p)).toEqual({ v1: 2, batch: 2 });

    // The purge: every profile of this project is past its 30 days.
    await setInactivity(p, 30);
    const job = await purge({ as_of: new Date(Date.now() + 31 * 86_400_000).toISOString() });
    const results = resultsFor(job, p).filter((r) => r.kind === "inactive");
    expect(results.map((r) => r.outcome)).toEqual(["removed", "removed", "removed", "removed"]);
    for (const s of writes) expect(await activeOn(s, p), s).toBe(0);
    expect(await exportGold(p)).toEqual([]);
    expect((await profileBy(p, { custom_id: "ann" })).status).toBe(404);

    if (moveId) {
      // The staged move resumed to its end: nothing removed comes back, nothing stays behind.
      await env.DB.prepare("UPDATE shard_moves SET status = 'failed' WHERE id = ?").bind(moveId).run();
      const resumed = await call("POST", `/v1/admin/projects/${p.projectId}/move`, {
        headers: adminHeaders,
        body: { shard: TO },
      });
      expect(resumed.status).toBe(202);
      await moveDone(moveId);
      expect(await activeOn(TO, p)).toBe(0);
      const left = await d1(FROM)
        .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ?")
        .bind(p.projectId)
        .first<{ n: number }>();
      expect(left?.n).toBe(0);
      expect(await exportGold(p)).toEqual([]);
      expect(await audienceSizes(p)).toEqual({ v1: 0, batch: 0 });
      // A profile that comes back is a new one, on the new shard.
      const back = await batch(p, DEVICE, [attributes({ tier: "gold" })]);
      await vi.waitFor(async () => expect((await statesOn([TO], p, back.profile_id))[TO]).toBe("active"), {
        timeout: 20_000,
        interval: 100,
      });
    }
  }, 120_000);
});
