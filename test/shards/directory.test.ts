import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptiestShard, projectionFor, shardNames, UnplacedProjectError } from "../../src/db/shards";
import { createProject } from "../support/harness";

const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;

describe("projection directory", () => {
  it("binds three shards in tests, PROJECTION_0 being the control database", async () => {
    expect(shardNames(env)).toEqual(["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"]);
    const marker = `m${crypto.randomUUID().replaceAll("-", "")}`;
    await env.DB.prepare(`CREATE TABLE ${marker} (a)`).run();
    const seen = await d1("PROJECTION_0").prepare("SELECT name FROM sqlite_master WHERE name = ?").bind(marker).all();
    expect(seen.results).toHaveLength(1);
  });

  it("places a new project on one shard and resolves it", async () => {
    const p = await createProject();
    const projection = await projectionFor(env, p.projectId);
    expect(projection.shards).toHaveLength(1);
    expect(shardNames(env)).toContain(projection.one().name);
    expect(projection.forProfile("any").name).toBe(projection.one().name);
  });

  it("sends a new project to the emptiest shard", async () => {
    // Fill every shard but PROJECTION_2 well past the others' size.
    const filler = "x".repeat(2000);
    for (const name of ["PROJECTION_0", "PROJECTION_1"]) {
      await d1(name).prepare("CREATE TABLE IF NOT EXISTS filler (v)").run();
      await d1(name)
        .prepare(
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO filler SELECT ? FROM n",
        )
        .bind(filler)
        .run();
    }
    expect(await emptiestShard(env)).toBe("PROJECTION_2");
    const p = await createProject();
    expect((await projectionFor(env, p.projectId)).one().name).toBe("PROJECTION_2");
  });

  it("refuses a project the directory does not know", async () => {
    await expect(projectionFor(env, "no-such-project")).rejects.toBeInstanceOf(UnplacedProjectError);
  });
});
