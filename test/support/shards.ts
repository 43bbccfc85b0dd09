import { env } from "cloudflare:workers";
import { projectShard } from "../../src/db/shards";

/** The D1 database that holds a project's projection rows: its shard, as the directory names it. */
export async function shardDb(projectId: string): Promise<D1Database> {
  return (await projectShard(env, projectId)).d1;
}

/**
 * Puts a project that holds no projection rows yet on `shard`, as the directory would have placed
 * it. Only for a project no isolate has resolved: it changes the directory, not the rows.
 */
export async function placeOn(projectId: string, shard: string): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("UPDATE project_shards SET shard = ? WHERE project_id = ?").bind(shard, projectId),
    env.DB.prepare("UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0"),
  ]);
}
