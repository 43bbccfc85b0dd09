import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { projectShard } from "../../src/db/shards";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { heldState, projectedState, waitForProjection } from "../support/projection";
import { instantMoves, moveDone, placeOn, projectionDb, seedForMove } from "../support/shards";

const d1 = projectionDb;
const DEVICES = Array.from({ length: 6 }, (_, k) => `00000000-0000-4000-8000-0000000ab00${k}`);
const USERS = Array.from({ length: 8 }, (_, k) => `mover-${k}`);
let p: Project;
instantMoves();

beforeAll(async () => {
  p = await seedForMove("PROJECTION_1", { devices: DEVICES, users: USERS, crew: 3 });
}, 60_000);

const moveTo = (shard: string, project = p) =>
  call("POST", `/v1/admin/projects/${project.projectId}/move`, { headers: adminHeaders, body: { shard } });

async function projectRows(shard: string) {
  let n = 0;
  for (const t of ["profiles", "profile_attributes", "installations", "audiences", "audience_members"]) {
    const row = await d1(shard)
      .prepare(`SELECT count(*) AS n FROM ${t} WHERE project_id = ?`)
      .bind(p.projectId)
      .first<{ n: number }>();
    n += row?.n ?? 0;
  }
  return n;
}

describe("POST /v1/admin/projects/{id}/move", () => {
  it("moves a project under concurrent SDK and Profile API writes, losing nothing", async () => {
    const res = await moveTo("PROJECTION_2");
    expect(res.status).toBe(202);
    const { job, request_id } = await res.json<{ job: string; request_id: string }>();
    expect(job).toBe("move");
    // Writes while the move runs: every round updates every profile.
    for (let round = 1; round <= 3; round++) {
      const update = await call("POST", "/v1/profiles/update", {
        headers: restHeaders(p),
        body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { round } })),
      });
      expect(update.status).toBe(202);
      for (const [k, device] of DEVICES.entries()) {
        await batch(p, device, [
          attributes({ round, k }),
          ...(round === 2 && k === 0 ? [identify("late-signin")] : []),
        ]);
      }
    }
    const status = await vi.waitFor(
      async () => {
        const body = await (await call("GET", `/v1/admin/jobs/move/${request_id}`, { headers: adminHeaders })).json<{
          status: string;
          from: string;
          to: string;
        }>();
        if (body.status !== "done") throw new Error(JSON.stringify(body));
        return body;
      },
      { timeout: 30_000, interval: 200 },
    );
    expect(status).toMatchObject({ from: "PROJECTION_1", to: "PROJECTION_2", status: "done" });
    expect((await projectShard(env, p.projectId)).name).toBe("PROJECTION_2");
    // The writes that were still in flight land on the new shard; the old one holds nothing.
    const ids = [...USERS, "late-signin"];
    await vi.waitFor(
      async () => {
        const held = await heldState(p.projectId, DEVICES, ids);
        const projected = await projectedState(p.projectId);
        expect(projected.profiles).toEqual(new Map([...held.profiles].filter(([, v]) => v.state === "active")));
        expect(projected.installations).toEqual(held.installations);
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(await projectRows("PROJECTION_1")).toBe(0);
    const held = await heldState(p.projectId, DEVICES, ids);
    const active = [...held.profiles.values()].filter((v) => v.state === "active").length;
    const count = await call("POST", "/v1/segments/query", {
      headers: restHeaders(p),
      body: { where: { attribute: "round", op: "eq", value: 3 }, count_only: true },
    });
    expect((await count.json<{ count: number }>()).count).toBe(active);
    const crew = await (await call("GET", "/v1/audiences/crew", { headers: restHeaders(p) })).json<{ size: number }>();
    expect(crew.size).toBe(3);
    const listed = await (await call("GET", "/v1/admin/shards", { headers: adminHeaders })).json<{
      shards: { shard: string; projects: { project_id: string }[] }[];
    }>();
    const where = listed.shards.filter((s) => s.projects.some((x) => x.project_id === p.projectId)).map((s) => s.shard);
    expect(where).toEqual(["PROJECTION_2"]);
  }, 90_000);

  it("resumes a move that failed part-way when asked again", async () => {
    const q = await createProject();
    await placeOn(q.projectId, "PROJECTION_2");
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(q),
      body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { round: 9 } })),
    });
    expect(res.status).toBe(202);
    await waitForProjection(q.projectId, [], USERS);
    // As a move that copied its first profiles, then failed every retry of its next page, leaves it.
    const id = crypto.randomUUID();
    const now = new Date().toISOString();
    const ids = [...(await projectedState(q.projectId)).profiles.keys()].sort();
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, phase, cursor, status, error, created_at, updated_at)
         VALUES (?, ?, 'PROJECTION_2', 'PROJECTION_1', 'copy', ?, 'failed', 'A step failed every retry', ?, ?)`,
      ).bind(id, q.projectId, JSON.stringify({ step: "profiles", after: ids[2] }), now, now),
      env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
    ]);
    const again = await moveTo("PROJECTION_1", q);
    expect(again.status).toBe(202);
    expect((await again.json<{ request_id: string }>()).request_id).toBe(id);
    await moveDone(id);
    expect((await projectShard(env, q.projectId)).name).toBe("PROJECTION_1");
    // It went on from its cursor, not from the start: only the profiles after it were copied
    // (the staged failure never copied the first ones, which a real first run would have).
    const moved = await d1("PROJECTION_1")
      .prepare("SELECT profile_id FROM profiles WHERE project_id = ? ORDER BY profile_id")
      .bind(q.projectId)
      .all<{ profile_id: string }>();
    expect(moved.results.map((r) => r.profile_id)).toEqual(ids.slice(3));
    const left = await d1("PROJECTION_2")
      .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ?")
      .bind(q.projectId)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("refuses audience changes while a move is under way, and serves audience reads", async () => {
    const q = await createProject();
    expect(
      (await call("POST", "/v1/audiences", { headers: restHeaders(q), body: { name: "held", type: "custom_ids" } }))
        .status,
    ).toBe(201);
    const now = new Date().toISOString();
    const from = (await projectShard(env, q.projectId)).name;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, phase, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'copy', 'failed', ?, ?)`,
      ).bind(
        crypto.randomUUID(),
        q.projectId,
        from,
        from === "PROJECTION_1" ? "PROJECTION_2" : "PROJECTION_1",
        now,
        now,
      ),
      env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
    ]);
    const put = await call("PUT", "/v1/audiences/held", { headers: restHeaders(q), body: { ids: ["x"] } });
    expect(put.status).toBe(409);
    expect((await errorOf(put)).code).toBe("CONFLICT");
    expect(put.headers.get("Retry-After")).toBe("60");
    const created = await call("POST", "/v1/audiences", {
      headers: restHeaders(q),
      body: { name: "new", type: "custom_ids" },
    });
    expect(created.status).toBe(409);
    const read = await call("GET", "/v1/audiences/held", { headers: restHeaders(q) });
    expect(read.status).toBe(200);
    expect((await read.json<{ size: number }>()).size).toBe(0);
  });

  it("refuses what it cannot do, writing nothing", async () => {
    const other = await createProject();
    const before = await d1("PROJECTION_0").prepare("SELECT count(*) AS n FROM shard_moves").first<{ n: number }>();
    const cases: [Response, number, string][] = [
      [await moveTo("PROJECTION_9", other), 400, "VALIDATION_FAILED"],
      [await moveTo("DB", other), 400, "VALIDATION_FAILED"],
      [await moveTo((await projectShard(env, other.projectId)).name, other), 409, "CONFLICT"],
      [
        await call("POST", `/v1/admin/projects/${crypto.randomUUID()}/move`, {
          headers: adminHeaders,
          body: { shard: "PROJECTION_1" },
        }),
        404,
        "NOT_FOUND",
      ],
      [
        await call("POST", `/v1/admin/projects/${other.projectId}/move`, { headers: adminHeaders, body: {} }),
        400,
        "VALIDATION_FAILED",
      ],
      [await call("GET", `/v1/admin/jobs/move/${crypto.randomUUID()}`, { headers: adminHeaders }), 404, "NOT_FOUND"],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect((await errorOf(res)).code).toBe(code);
    }
    const after = await d1("PROJECTION_0").prepare("SELECT count(*) AS n FROM shard_moves").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("is refused without the admin token, or with a project's keys", async () => {
    for (const [headers, status] of [
      [{}, 401],
      [restHeaders(p), 403],
      [sdkHeaders(p), 403],
    ] as const) {
      const res = await call("POST", `/v1/admin/projects/${p.projectId}/move`, {
        headers,
        body: { shard: "PROJECTION_1" },
      });
      expect(res.status).toBe(status);
      const status2 = await call("GET", `/v1/admin/jobs/move/${crypto.randomUUID()}`, { headers });
      expect(status2.status).toBe(status);
    }
  });
});
