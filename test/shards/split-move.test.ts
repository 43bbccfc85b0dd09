import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { positionOf, projectionFor } from "../../src/db/shards";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { heldState } from "../support/projection";
import { instantMoves, moveDone, placeOn, projectionDb, seedForMove } from "../support/shards";

/*
 * A split by move (SPEC §11): a project on one shard spread over k by fnv1a(profile_id) mod k,
 * under concurrent SDK and Profile API writes, and moved back onto one.
 */

const d1 = projectionDb;
const SHARDS = ["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"];
const DEVICES = Array.from({ length: 6 }, (_, k) => `00000000-0000-4000-8000-0000000cd00${k}`);
const USERS = Array.from({ length: 14 }, (_, k) => `splitter-${k}`);
let p: Project;
instantMoves();

beforeAll(async () => {
  p = await seedForMove("PROJECTION_1", { devices: DEVICES, users: USERS, crew: 4 });
}, 60_000);

const move = (body: unknown, project = p) =>
  call("POST", `/v1/admin/projects/${project.projectId}/move`, { headers: adminHeaders, body });

const finished = (id: string) => moveDone(id, 40_000);

/** The project's profile-keyed rows on a shard: (table, profile_id) pairs. */
async function profileRowsOn(shard: string, projectId = p.projectId) {
  const rows = await d1(shard)
    .prepare(
      `SELECT 'profiles' AS t, profile_id FROM profiles WHERE project_id = ?1
       UNION ALL SELECT 'profile_attributes', profile_id FROM profile_attributes WHERE project_id = ?1
       UNION ALL SELECT 'installations', profile_id FROM installations WHERE project_id = ?1`,
    )
    .bind(projectId)
    .all<{ t: string; profile_id: string }>();
  return rows.results;
}

async function audienceRowsOn(shard: string, projectId = p.projectId) {
  const row = await d1(shard)
    .prepare(
      "SELECT (SELECT count(*) FROM audiences WHERE project_id = ?1) + (SELECT count(*) FROM audience_members WHERE project_id = ?1) AS n",
    )
    .bind(projectId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Active profiles with `round` = value on one shard: a segment count, taken in D1 directly. */
async function roundCountOn(shard: string, value: number) {
  const row = await d1(shard)
    .prepare(
      `SELECT count(*) AS n FROM profiles p JOIN profile_attributes a
         ON a.project_id = p.project_id AND a.profile_id = p.profile_id AND a.name = 'round'
       WHERE p.project_id = ? AND p.state = 'active' AND a.value_num = ?`,
    )
    .bind(p.projectId, value)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Each active profile's attributes, read from whatever shard holds its row, by profile ID. */
async function projectedAcross(shards: string[]) {
  const out = new Map<string, { shard: string; version: number; round: number | null }>();
  for (const shard of shards) {
    const rows = await d1(shard)
      .prepare(
        `SELECT p.profile_id, p.version, a.value_num AS round FROM profiles p LEFT JOIN profile_attributes a
           ON a.project_id = p.project_id AND a.profile_id = p.profile_id AND a.name = 'round'
         WHERE p.project_id = ? AND p.state = 'active'`,
      )
      .bind(p.projectId)
      .all<{ profile_id: string; version: number; round: number | null }>();
    for (const r of rows.results) {
      expect(out.has(r.profile_id), `${r.profile_id} on two shards`).toBe(false);
      out.set(r.profile_id, { shard, version: r.version, round: r.round });
    }
  }
  return out;
}

describe("a split by move", () => {
  it("spreads a project over two shards under concurrent writes, each profile where its hash names", async () => {
    const target = ["PROJECTION_1", "PROJECTION_2"];
    const res = await move({ shards: target });
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    for (let round = 1; round <= 3; round++) {
      const update = await call("POST", "/v1/profiles/update", {
        headers: restHeaders(p),
        body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { round } })),
      });
      expect(update.status).toBe(202);
      for (const [k, device] of DEVICES.entries()) {
        await batch(p, device, [
          attributes({ round, k }),
          ...(round === 2 && k === 0 ? [identify("late-splitter")] : []),
        ]);
      }
    }
    const status = await finished(request_id);
    expect(status).toMatchObject({ from: "PROJECTION_1", to: target });
    expect((await projectionFor(env, p.projectId)).shards.map((s) => s.name)).toEqual(target);

    const ids = [...USERS, "late-splitter"];
    await vi.waitFor(
      async () => {
        const held = await heldState(p.projectId, DEVICES, ids);
        const active = [...held.profiles.values()].filter((v) => v.state === "active");
        const projected = await projectedAcross(SHARDS);
        expect(projected.size).toBe(active.length);
        for (const h of active) {
          const row = projected.get(h.profile_id);
          expect(row, h.profile_id).toEqual({
            shard: target[positionOf(h.profile_id, 2)],
            version: h.version,
            round: (h.attributes.round as number) ?? null,
          });
        }
      },
      { timeout: 20_000, interval: 200 },
    );
    // No row of any kind (orphans and installations too) is on a shard its profile's hash does not name.
    const placed = new Map<string, Set<string>>();
    for (const shard of SHARDS) {
      const rows = await profileRowsOn(shard);
      for (const r of rows) expect(target[positionOf(r.profile_id, 2)], `${r.t} ${r.profile_id}`).toBe(shard);
      placed.set(shard, new Set(rows.map((r) => r.profile_id)));
    }
    expect(placed.get("PROJECTION_1")?.size).toBeGreaterThan(0);
    expect(placed.get("PROJECTION_2")?.size).toBeGreaterThan(0);
    // Every shard of the placement holds a whole copy of the audiences.
    expect(await audienceRowsOn("PROJECTION_1")).toBe(1 + 4);
    expect(await audienceRowsOn("PROJECTION_2")).toBe(1 + 4);
    // Segment counts per shard add up to the count the objects give.
    const held = await heldState(p.projectId, DEVICES, ids);
    const fromObjects = [...held.profiles.values()].filter((v) => v.state === "active" && v.attributes.round === 3);
    expect(fromObjects.length).toBeGreaterThan(0);
    let sum = 0;
    for (const shard of SHARDS) sum += await roundCountOn(shard, 3);
    expect(sum).toBe(fromObjects.length);
    // And the segment API, which fans out over the split placement, gives the same count.
    const counted = await call("POST", "/v1/segments/query", {
      headers: restHeaders(p),
      body: { where: { attribute: "round", op: "eq", value: 3 }, count_only: true },
    });
    expect(counted.status).toBe(200);
    expect((await counted.json<{ count: number }>()).count).toBe(fromObjects.length);
    const listed = await (await call("GET", "/v1/admin/shards", { headers: adminHeaders })).json<{
      shards: { shard: string; projects: { project_id: string; profiles: number }[] }[];
    }>();
    const where = listed.shards.filter((s) => s.projects.some((x) => x.project_id === p.projectId)).map((s) => s.shard);
    expect(where).toEqual(target);
  }, 120_000);

  it("moves a split project back onto one of its shards, leaving nothing on the other", async () => {
    const res = await move({ shard: "PROJECTION_2" });
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { round: 4 } })),
    });
    const status = await finished(request_id);
    expect(status).toMatchObject({ from: ["PROJECTION_1", "PROJECTION_2"], to: "PROJECTION_2" });
    const ids = [...USERS, "late-splitter"];
    await vi.waitFor(
      async () => {
        const held = await heldState(p.projectId, DEVICES, ids);
        const active = [...held.profiles.values()].filter((v) => v.state === "active");
        const projected = await projectedAcross(SHARDS);
        expect(projected.size).toBe(active.length);
        for (const h of active) {
          expect(projected.get(h.profile_id)).toEqual({
            shard: "PROJECTION_2",
            version: h.version,
            round: (h.attributes.round as number) ?? null,
          });
        }
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(await profileRowsOn("PROJECTION_1")).toEqual([]);
    expect(await audienceRowsOn("PROJECTION_1")).toBe(0);
    expect(await audienceRowsOn("PROJECTION_2")).toBe(1 + 4);
    const crew = await (await call("GET", "/v1/audiences/crew", { headers: restHeaders(p) })).json<{ size: number }>();
    expect(crew.size).toBe(4);
  }, 120_000);

  it("refuses unknown, repeated or unchanged placements in the envelope, writing nothing", async () => {
    const q = await createProject();
    await placeOn(q.projectId, "PROJECTION_1");
    const count = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM shard_moves").first<{ n: number }>())?.n ?? -1;
    const before = await count();
    const cases: [unknown, number, string, string | null][] = [
      [{ shards: ["PROJECTION_1", "PROJECTION_9"] }, 400, "VALIDATION_FAILED", "shards.1"],
      [{ shards: ["PROJECTION_2", "PROJECTION_2"] }, 400, "VALIDATION_FAILED", "shards.1"],
      [{ shards: ["PROJECTION_1", "DB"] }, 400, "VALIDATION_FAILED", "shards.1"],
      [{ shards: [] }, 400, "VALIDATION_FAILED", null],
      [{ shards: ["PROJECTION_1"] }, 409, "CONFLICT", null],
      [{ shard: "PROJECTION_2", shards: ["PROJECTION_2"] }, 400, "VALIDATION_FAILED", null],
      [{ shards: "PROJECTION_2" }, 400, "VALIDATION_FAILED", null],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await move(body, q);
      expect(res.status, JSON.stringify(body)).toBe(status);
      const error = await errorOf(res);
      expect(error.code).toBe(code);
      if (path) expect(error.issues?.map((i) => i.path)).toContain(path);
    }
    expect(await count()).toBe(before);
    expect((await projectionFor(env, q.projectId)).shards.map((s) => s.name)).toEqual(["PROJECTION_1"]);
  });
});
