import { env } from "cloudflare:workers";
import { projectionFor, projectShard } from "../../src/db/shards";

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
