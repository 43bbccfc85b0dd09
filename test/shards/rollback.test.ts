import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { projectionFor, shard } from "../../src/db/shards";
import { movePacing, runMove } from "../../src/projection/move";
import { type ReplayCursor, replayPage, replayPaging } from "../../src/projection/replay";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { attributes, batch } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { instantMoves, placeOn, projectionDb, seedForMove } from "../support/shards";

/*
 * A move that stopped part-way, rolled back: the dual writes end, the new placement's shards
 * lose what the copy and the writes put there (a shard in both placements keeps the project's
 * rows), and the project is whole on its old shard. A move that has flipped is not rolled back.
 */

const d1 = projectionDb;
const DEVICES = Array.from({ length: 3 }, (_, k) => `00000000-0000-4000-8000-0000000ee00${k}`);
const USERS = Array.from({ length: 8 }, (_, k) => `roller-${k}`);
instantMoves();

/** Every projection row of the project on a shard, table by table. */
async function rowsOn(name: string, projectId: string) {
  const out: Record<string, unknown[]> = {};
  for (const t of ["profiles", "profile_attributes", "installations", "audiences", "audience_members"]) {
    out[t] = (
      await d1(name).prepare(`SELECT * FROM ${t} WHERE project_id = ? ORDER BY 2, 3`).bind(projectId).all()
    ).results;
  }
  return out;
}

const count = (rows: Record<string, unknown[]>) => Object.values(rows).flat().length;

const seeded = () => seedForMove("PROJECTION_1", { devices: DEVICES, users: USERS, crew: 3 });

/**
 * As a move to `to` leaves a project when it failed every retry of a copy page: its first pages
 * replayed into the new placement (with every step of the audiences done), the row `failed` at
 * the next cursor, still writing both placements.
 */
async function stoppedMidCopy(p: Project, to: string[]): Promise<string> {
  const paging = { ...replayPaging };
  Object.assign(replayPaging, { profiles: 3 });
  let cursor: ReplayCursor | null;
  try {
    const target = to.map((n) => shard(env, n));
    cursor = await replayPage(env, p.projectId, shard(env, "PROJECTION_1"), target);
    // The audiences too, as a copy that had got that far: the rollback must take them back.
    await replayPage(env, p.projectId, shard(env, "PROJECTION_1"), target, { step: "audiences", after: null });
  } finally {
    Object.assign(replayPaging, paging);
  }
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, to_shards, phase, cursor, status, error, created_at, updated_at)
       VALUES (?, ?, 'PROJECTION_1', ?, ?, 'copy', ?, 'failed', 'A step failed every retry', ?, ?)`,
    ).bind(id, p.projectId, to[0], JSON.stringify(to), JSON.stringify(cursor), now, now),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
  return id;
}

const rollback = (id: string, headers: Record<string, string> = adminHeaders) =>
  call("POST", `/v1/admin/jobs/move/${id}/rollback`, { headers });

async function moveOf(id: string) {
  return (await call("GET", `/v1/admin/jobs/move/${id}`, { headers: adminHeaders })).json<{
    status: string;
    phase: string;
    error?: string;
  }>();
}

describe("POST /v1/admin/jobs/move/{id}/rollback", () => {
  for (const to of [["PROJECTION_2"], ["PROJECTION_2", "PROJECTION_1"]]) {
    it(`leaves a move to ${to.join(", ")} stopped mid-copy whole on its old shard, nothing on the new`, async () => {
      const p = await seeded();
      const before = await rowsOn("PROJECTION_1", p.projectId);
      const id = await stoppedMidCopy(p, to);
      // Writes while the stopped move still writes both placements.
      const update = await call("POST", "/v1/profiles/update", {
        headers: restHeaders(p),
        body: USERS.map((u) => ({ identifiers: { custom_id: u }, attributes: { round: 1 } })),
      });
      expect(update.status).toBe(202);
      await vi.waitFor(
        async () => {
          const rows = await d1("PROJECTION_2")
            .prepare("SELECT count(*) AS n FROM profile_attributes WHERE project_id = ? AND value_num = 1")
            .bind(p.projectId)
            .first<{ n: number }>();
          expect(rows?.n).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 100 },
      );
      expect(count(await rowsOn("PROJECTION_2", p.projectId))).toBeGreaterThan(0);

      const res = await rollback(id);
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ job: "move", request_id: id });
      const status = await vi.waitFor(
        async () => {
          const body = await moveOf(id);
          expect(body.phase).toBe("rolled_back");
          return body;
        },
        { timeout: 30_000, interval: 200 },
      );
      expect(status.status).toBe("failed");
      expect(status.error).toMatch(/Rolled back/);
      expect((await projectionFor(env, p.projectId)).shards.map((s) => s.name)).toEqual(["PROJECTION_1"]);
      expect(await rowsOn("PROJECTION_2", p.projectId)).toEqual({
        profiles: [],
        profile_attributes: [],
        installations: [],
        audiences: [],
        audience_members: [],
      });
      // The old shard holds the project, the writes made during the move included.
      await waitForProjection(p.projectId, DEVICES, USERS);
      const after = await rowsOn("PROJECTION_1", p.projectId);
      expect(after.profiles).toHaveLength(before.profiles?.length ?? -1);
      expect(after.audience_members).toEqual(before.audience_members);
      // The move no longer holds audience changes, and writes go to the old shard alone.
      const put = await call("PUT", "/v1/audiences/crew", {
        headers: restHeaders(p),
        body: { ids: USERS.slice(0, 2) },
      });
      expect(put.status).toBe(200);
      expect((await projectionFor(env, p.projectId)).writesFor("x").map((s) => s.name)).toEqual(["PROJECTION_1"]);
      // Asked again: it is rolled back already.
      const again = await rollback(id);
      expect(again.status).toBe(409);
      expect((await errorOf(again)).code).toBe("CONFLICT");
      // And a new move of the project can start.
      const next = await call("POST", `/v1/admin/projects/${p.projectId}/move`, {
        headers: adminHeaders,
        body: { shard: "PROJECTION_0" },
      });
      expect(next.status).toBe(202);
    }, 90_000);
  }

  it("waits a directory TTL before deleting, even when a copy message arrives first", async () => {
    const p = await seeded();
    const id = await stoppedMidCopy(p, ["PROJECTION_2"]);
    const copied = count(await rowsOn("PROJECTION_2", p.projectId));
    expect(copied).toBeGreaterThan(0);
    movePacing.waitSeconds = 2;
    try {
      expect((await rollback(id)).status).toBe(202);
      // The copy's next message, in flight when the rollback began, runs now.
      await runMove(env, { type: "shard_move", move_id: id });
      expect(count(await rowsOn("PROJECTION_2", p.projectId))).toBe(copied);
      expect((await moveOf(id)).phase).toBe("rollback");
      await vi.waitFor(async () => expect((await moveOf(id)).phase).toBe("rolled_back"), {
        timeout: 30_000,
        interval: 200,
      });
    } finally {
      movePacing.waitSeconds = 0;
    }
    expect(count(await rowsOn("PROJECTION_2", p.projectId))).toBe(0);
  }, 60_000);

  it("refuses a move that finished, or that has flipped, changing nothing", async () => {
    const p = await createProject();
    await placeOn(p.projectId, "PROJECTION_1");
    await batch(p, DEVICES[0] as string, [attributes({ round: 0 })]);
    await waitForProjection(p.projectId, [DEVICES[0] as string], []);
    const res = await call("POST", `/v1/admin/projects/${p.projectId}/move`, {
      headers: adminHeaders,
      body: { shard: "PROJECTION_2" },
    });
    const { request_id } = await res.json<{ request_id: string }>();
    await vi.waitFor(async () => expect((await moveOf(request_id)).status).toBe("done"), {
      timeout: 30_000,
      interval: 200,
    });
    const done = await rollback(request_id);
    expect(done.status).toBe(409);
    expect((await errorOf(done)).message).toMatch(/flipped/);
    expect(await moveOf(request_id)).toMatchObject({ status: "done", phase: "done" });
    expect((await projectionFor(env, p.projectId)).shards.map((s) => s.name)).toEqual(["PROJECTION_2"]);

    const q = await createProject();
    const id = crypto.randomUUID();
    const now = new Date().toISOString();
    const from = (await projectionFor(env, q.projectId)).shards[0]?.name as string;
    const to = from === "PROJECTION_1" ? "PROJECTION_2" : "PROJECTION_1";
    await env.DB.batch([
      env.DB.prepare("UPDATE project_shards SET shard = ? WHERE project_id = ?").bind(to, q.projectId),
      env.DB.prepare(
        `INSERT INTO shard_moves (id, project_id, from_shard, to_shard, phase, status, error, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'flipped', 'failed', 'A step failed every retry', ?, ?)`,
      ).bind(id, q.projectId, from, to, now, now),
      env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
    ]);
    const flipped = await rollback(id);
    expect(flipped.status).toBe(409);
    expect(await moveOf(id)).toMatchObject({ status: "failed", phase: "flipped" });

    const unknown = await rollback(crypto.randomUUID());
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe("NOT_FOUND");
  }, 60_000);

  it("is refused without the admin token, or with a project's keys", async () => {
    const p = await createProject();
    for (const [headers, status] of [
      [{}, 401],
      [restHeaders(p), 403],
      [sdkHeaders(p), 403],
    ] as const) {
      const res = await rollback(crypto.randomUUID(), headers);
      expect(res.status).toBe(status);
    }
  });
});
