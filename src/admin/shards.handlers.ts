import type { RouteHandler } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { projectShards } from "../db/schema";
import { allShards, type Shard, shardBytes } from "../db/shards";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { moveStatus, rollbackMove as rollback, startMove } from "../projection/move";
import type * as routes from "./shards.routes";

/** The projection tables a shard holds (SPEC §11; the list is in docs/decisions.md). */
const PROJECTION_TABLES = [
  "profiles",
  "profile_attributes",
  "profile_attribute_items",
  "installations",
  "audiences",
  "audience_members",
] as const;

/** Rows per project and table on one shard: one batch, each statement a scan of the table's primary key. */
async function rowsByProject(s: Shard): Promise<Map<string, Record<string, number>>> {
  const results = await s.d1.batch<{ project_id: string; n: number }>(
    PROJECTION_TABLES.map((t) => s.d1.prepare(`SELECT project_id, count(*) AS n FROM ${t} GROUP BY project_id`)),
  );
  const byProject = new Map<string, Record<string, number>>();
  results.forEach((r, k) => {
    for (const row of r.results) {
      const counts = byProject.get(row.project_id) ?? {};
      counts[PROJECTION_TABLES[k] as string] = row.n;
      byProject.set(row.project_id, counts);
    }
  });
  return byProject;
}

const sum = (counts: Record<string, number> | undefined) =>
  Object.values(counts ?? {}).reduce((total, n) => total + n, 0);

export const listShards: RouteHandler<typeof routes.listShards, AppEnv> = async (c) => {
  const { shard } = c.req.valid("query");
  const shards = allShards(c.env).filter((s) => shard === undefined || s.name === shard);
  if (shard !== undefined && shards.length === 0) throw new ApiError("NOT_FOUND", `No projection shard ${shard}.`);
  const placements = await drizzle(c.env.DB)
    .select()
    .from(projectShards)
    .orderBy(asc(projectShards.projectId), asc(projectShards.position));
  const listed = await Promise.all(
    shards.map(async (s) => {
      const [rows, bytes] = await Promise.all([rowsByProject(s), shardBytes(s)]);
      const projects = [...new Set(placements.filter((p) => p.shard === s.name).map((p) => p.projectId))];
      return {
        shard: s.name,
        rows: [...rows.values()].reduce((total, counts) => total + sum(counts), 0),
        bytes,
        projects: projects.map((id) => ({
          project_id: id,
          profiles: rows.get(id)?.profiles ?? 0,
          rows: sum(rows.get(id)),
        })),
      };
    }),
  );
  return c.json({ shards: listed }, 200);
};

export const moveProject: RouteHandler<typeof routes.moveProject, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const { shard, shards } = c.req.valid("json");
  if ((shard === undefined) === (shards === undefined)) {
    throw new ApiError("VALIDATION_FAILED", "Name the target as one of `shard` and `shards`.", {
      issues: [{ path: shard === undefined ? "shard" : "shards", message: "Exactly one of `shard` and `shards`." }],
    });
  }
  const id = await startMove(c.env, project_id, shards ? { shards } : { shard: shard as string });
  return c.json({ job: "move" as const, request_id: id }, 202);
};

export const getMove: RouteHandler<typeof routes.getMove, AppEnv> = async (c) => {
  const { request_id } = c.req.valid("param");
  const status = await moveStatus(c.env, request_id);
  if (!status) throw new ApiError("NOT_FOUND", `No move ${request_id}.`);
  return c.json(status, 200);
};

export const rollbackMove: RouteHandler<typeof routes.rollbackMove, AppEnv> = async (c) => {
  const { request_id } = c.req.valid("param");
  await rollback(c.env, request_id);
  return c.json({ job: "move" as const, request_id }, 202);
};
