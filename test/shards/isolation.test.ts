import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { projectShard, shardNames } from "../../src/db/shards";
import { onDemandExport } from "../exports/helpers";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, identify, profileBy } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { placeOn } from "../support/shards";

/*
 * Two projects on two shards, with the same custom IDs, installation IDs, attribute names and
 * audience name: every read answers from the caller's own project only, and each project's rows
 * are on the shard the directory names, nowhere else.
 */

const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;
const USERS = ["ann", "ben", "cid"];
const DEVICE = "00000000-0000-4000-8000-00000000d001";

let a: Project;
let b: Project;

async function seed(p: Project, tier: string) {
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { tier } })),
  });
  expect(res.status).toBe(202);
  await batch(p, DEVICE, [identify("ann")]);
  expect(
    (await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name: "club", type: "custom_ids" } }))
      .status,
  ).toBe(201);
  const members = tier === "gold" ? ["ann"] : ["ben", "cid"];
  const put = await call("PUT", "/v1/audiences/club", { headers: restHeaders(p), body: { ids: members } });
  expect(put.status).toBe(200);
  await waitForProjection(p.projectId, [DEVICE], USERS);
}

beforeAll(async () => {
  a = await createProject();
  b = await createProject();
  await placeOn(a.projectId, "PROJECTION_1");
  await placeOn(b.projectId, "PROJECTION_2");
  await seed(a, "gold");
  await seed(b, "silver");
}, 60_000);

async function rowsOn(shard: string, projectId: string) {
  const tables = ["profiles", "profile_attributes", "installations", "audiences", "audience_members"];
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const row = await d1(shard)
      .prepare(`SELECT count(*) AS n FROM ${t} WHERE project_id = ?`)
      .bind(projectId)
      .first<{ n: number }>();
    counts[t] = row?.n ?? -1;
  }
  return counts;
}

async function query(p: Project, where: unknown) {
  const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where, limit: 100 } });
  expect(res.status).toBe(200);
  return res.json<{ count: number; profiles: { profile_id: string; custom_id: string | null }[] }>();
}

describe("two projects on two shards", () => {
  it("have their rows on the shard the directory names, and on no other", async () => {
    expect((await projectShard(env, a.projectId)).name).toBe("PROJECTION_1");
    expect((await projectShard(env, b.projectId)).name).toBe("PROJECTION_2");
    for (const [p, home] of [
      [a, "PROJECTION_1"],
      [b, "PROJECTION_2"],
    ] as const) {
      // The device's first, anonymous profile stays as an orphan beside the three.
      expect(await rowsOn(home, p.projectId)).toEqual({
        profiles: 4,
        profile_attributes: 3,
        installations: 1,
        audiences: 1,
        audience_members: p === a ? 1 : 2,
      });
      for (const other of shardNames(env).filter((s) => s !== home)) {
        expect(Object.values(await rowsOn(other, p.projectId))).toEqual([0, 0, 0, 0, 0]);
      }
    }
  });

  it("segments count and list the caller's profiles only", async () => {
    const gold = await query(a, { attribute: "tier", op: "eq", value: "gold" });
    expect(gold.count).toBe(3);
    expect(gold.profiles.map((p) => p.custom_id).sort()).toEqual(USERS);
    expect((await query(a, { attribute: "tier", op: "eq", value: "silver" })).count).toBe(0);
    expect((await query(b, { attribute: "tier", op: "eq", value: "gold" })).count).toBe(0);
    const aIds = new Set(gold.profiles.map((p) => p.profile_id));
    const silver = await query(b, { attribute: "tier", op: "eq", value: "silver" });
    expect(silver.count).toBe(3);
    expect(silver.profiles.some((p) => aIds.has(p.profile_id))).toBe(false);
  });

  it("audiences hold the caller's members, by API and in segments", async () => {
    const mine = async (p: Project) =>
      (await call("GET", "/v1/audiences/club", { headers: restHeaders(p) })).json<{ size: number }>();
    expect((await mine(a)).size).toBe(1);
    expect((await mine(b)).size).toBe(2);
    const inA = await query(a, { in_audience: "club" });
    expect(inA.profiles.map((p) => p.custom_id)).toEqual(["ann"]);
    const inB = await query(b, { in_audience: "club" });
    expect(inB.profiles.map((p) => p.custom_id).sort()).toEqual(["ben", "cid"]);
  });

  it("a profile export holds the caller's profiles only", async () => {
    const exported = async (p: Project) =>
      (await onDemandExport(p, { type: "profiles", fields: ["custom_id", "tier"] }))
        .trim()
        .split("\r\n")
        .slice(1)
        .sort();
    expect(await exported(a)).toEqual(USERS.map((u) => `${u},gold`));
    expect(await exported(b)).toEqual(USERS.map((u) => `${u},silver`));
  });

  it("a profile read by profile ID finds the caller's profile, never the other project's", async () => {
    const ofA = await profileBy(a, { custom_id: "ann" });
    const ofB = await profileBy(b, { custom_id: "ann" });
    expect(ofA.status).toBe(200);
    expect(ofB.status).toBe(200);
    const idA = ofA.body?.profile_id as string;
    const idB = ofB.body?.profile_id as string;
    expect(idA).not.toBe(idB);
    expect((await profileBy(a, { profile_id: idA })).body?.attributes).toMatchObject({ tier: { value: "gold" } });
    expect((await profileBy(b, { profile_id: idB })).body?.attributes).toMatchObject({ tier: { value: "silver" } });
    expect((await profileBy(a, { profile_id: idB })).status).toBe(404);
    expect((await profileBy(b, { profile_id: idA })).status).toBe(404);
  });
});
