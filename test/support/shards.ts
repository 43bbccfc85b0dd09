import { env } from "cloudflare:workers";
import { afterAll, beforeAll, expect, vi } from "vitest";
import { directoryTiming, projectionFor, projectShard } from "../../src/db/shards";
import { movePacing } from "../../src/projection/move";
import { adminHeaders, call, createProject, type Project, restHeaders } from "./harness";
import { attributes, batch } from "./identity";
import { waitForProjection } from "./projection";

/** The D1 database that holds a project's projection rows: its shard, as the directory names it. */
export async function shardDb(projectId: string): Promise<D1Database> {
  return (await projectShard(env, projectId)).d1;
}

/** The D1 databases of every shard of a project, by position (one for a project that is not split). */
export async function shardDbs(projectId: string): Promise<D1Database[]> {
  return (await projectionFor(env, projectId)).shards.map((s) => s.d1);
}

/**
 * Puts a project that holds no projection rows yet on `shard`, or splits it over several shards
 * (by position, as a split places them), as the directory would have placed it. Only for a
 * project no isolate has resolved: it changes the directory, not the rows.
 */
export async function placeOn(projectId: string, shard: string | readonly string[]): Promise<void> {
  const shards = typeof shard === "string" ? [shard] : shard;
  await env.DB.batch([
    env.DB.prepare("DELETE FROM project_shards WHERE project_id = ?").bind(projectId),
    ...shards.map((name, position) =>
      env.DB.prepare("INSERT INTO project_shards (project_id, position, shard) VALUES (?, ?, ?)").bind(
        projectId,
        position,
        name,
      ),
    ),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
}

/** A projection database by its binding name (PROJECTION_0…N). */
export function projectionDb(name: string): D1Database {
  return (env as unknown as Record<string, D1Database>)[name] as D1Database;
}

/**
 * Registers the hooks that let a file's moves run without waits: every isolate rereads the
 * directory on each call, so no step need wait for caches; restored after the file.
 */
export function instantMoves(): void {
  const saved = { ttl: directoryTiming.ttlMs, wait: movePacing.waitSeconds };
  beforeAll(() => {
    directoryTiming.ttlMs = 0;
    movePacing.waitSeconds = 0;
  });
  afterAll(() => {
    directoryTiming.ttlMs = saved.ttl;
    movePacing.waitSeconds = saved.wait;
  });
}

/**
 * A new project on `shard` with `users` written through the Profile API (`round: 0`), one SDK
 * batch from each of `devices` (`round: 0` and its index `k`), and the custom-ID audience "crew"
 * of the first `crew` users, everything projected.
 */
export async function seedForMove(
  shard: string,
  seed: { devices: readonly string[]; users: readonly string[]; crew: number },
): Promise<Project> {
  const p = await createProject();
  await placeOn(p.projectId, shard);
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: seed.users.map((u) => ({ identifiers: { custom_id: u }, attributes: { round: 0 } })),
  });
  expect(res.status).toBe(202);
  for (const [k, device] of seed.devices.entries()) await batch(p, device, [attributes({ round: 0, k })]);
  await crewOf(p, seed.users.slice(0, seed.crew));
  await waitForProjection(p.projectId, [...seed.devices], [...seed.users]);
  return p;
}

/** Creates the custom-ID audience "crew" with `ids` as its members. */
export async function crewOf(p: Project, ids: readonly string[]): Promise<void> {
  const created = await call("POST", "/v1/audiences", {
    headers: restHeaders(p),
    body: { name: "crew", type: "custom_ids" },
  });
  expect(created.status).toBe(201);
  expect((await call("PUT", "/v1/audiences/crew", { headers: restHeaders(p), body: { ids } })).status).toBe(200);
}

/** Waits for the move job `id` to be done, and returns its status. */
export function moveDone(id: string, timeout = 30_000) {
  return vi.waitFor(
    async () => {
      const res = await call("GET", `/v1/admin/jobs/move/${id}`, { headers: adminHeaders });
      const body = await res.json<{ status: string; from: unknown; to: unknown }>();
      if (body.status !== "done") throw new Error(JSON.stringify(body));
      return body;
    },
    { timeout, interval: 200 },
  );
}
