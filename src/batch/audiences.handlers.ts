import type { RouteHandler } from "@hono/zod-openapi";
import { count, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { AudienceRow } from "../audiences/members";
import {
  audienceWriteDb,
  checkIds,
  createAudienceRow,
  deleteAudienceRow,
  findAudience,
  listAudienceRows,
  patchAudienceMembers,
  replaceWithMembers,
} from "../audiences/store";
import { audiencesInProgress, type IndexingState, tokenState, withIndexingToken } from "../audiences/tokens";
import { audienceShard } from "../db/fan-out";
import { audiences } from "../db/schema";
import { projectionFor } from "../db/shards";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError, type ErrorIssue } from "../lib/errors";
import type * as routes from "./audiences.routes";

function batchView(row: AudienceRow, indexing_state: IndexingState) {
  return {
    name: row.name,
    display_name: row.description,
    type: row.type,
    nb_ids: row.size,
    indexing_state,
    created: row.createdAt,
    updated: row.updatedAt,
  };
}

const refused = (issues: ErrorIssue[]) =>
  new ApiError("VALIDATION_FAILED", "An ID is invalid; the audience was not changed.", { issues });

export const createAudience: RouteHandler<typeof routes.createAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name, type, display_name } = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const projection = await audienceWriteDb(c.env, projectId);
  const token = await withIndexingToken(db, projectId, name, "create", async () => {
    const created = await createAudienceRow(projection, projectId, { name, type, description: display_name ?? null });
    if (!created) throw new ApiError("CONFLICT", `An audience named "${name}" already exists.`);
  });
  return c.json({ indexing_token: token }, 202);
};

export const updateAudience: RouteHandler<typeof routes.updateAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name, ids } = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const projection = await audienceWriteDb(c.env, projectId);
  const { type } = await findAudience(projection, projectId, name);
  const checked = checkIds(
    type,
    "ids",
    ids.map((i) => i.id),
  );
  if (checked.issues.length) throw refused(checked.issues.map((i) => ({ ...i, path: `${i.path}.id` })));
  // The last action on an ID wins: one add or one remove per stored ID.
  const last = new Map<string, "add" | "remove">();
  ids.forEach(({ action }, k) => {
    const member = checked.members[k];
    if (member !== undefined) {
      last.delete(member);
      last.set(member, action);
    }
  });
  const add = [...last].flatMap(([id, action]) => (action === "add" ? [id] : []));
  const remove = [...last].flatMap(([id, action]) => (action === "remove" ? [id] : []));
  const token = await withIndexingToken(db, projectId, name, "update", () =>
    patchAudienceMembers(projection, projectId, name, add, remove),
  );
  return c.json({ indexing_token: token }, 202);
};

export const replaceAudience: RouteHandler<typeof routes.replaceAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name, ids } = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const projection = await audienceWriteDb(c.env, projectId);
  const checked = checkIds((await findAudience(projection, projectId, name)).type, "ids", ids);
  if (checked.issues.length) throw refused(checked.issues);
  const token = await withIndexingToken(db, projectId, name, "replace", () =>
    replaceWithMembers(projection, projectId, name, checked.members),
  );
  return c.json({ indexing_token: token }, 202);
};

export const removeAudience: RouteHandler<typeof routes.removeAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const projection = await audienceWriteDb(c.env, projectId);
  const token = await withIndexingToken(db, projectId, name, "remove", () =>
    deleteAudienceRow(projection, projectId, name),
  );
  return c.json({ indexing_token: token }, 202);
};

export const listAudiences: RouteHandler<typeof routes.listAudiences, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { from, limit } = c.req.valid("query");
  const db = drizzle(c.env.DB);
  const projection = audienceShard(await projectionFor(c.env, projectId)).db;
  // One more than the page, to know whether another follows.
  const rows = await listAudienceRows(projection, projectId, {
    ...(from !== undefined ? { after: from } : {}),
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const [busy, total] = await Promise.all([
    audiencesInProgress(
      db,
      projectId,
      page.map((r) => r.name),
    ),
    projection.select({ n: count() }).from(audiences).where(eq(audiences.projectId, projectId)).get(),
  ]);
  const has_more = rows.length > limit;
  return c.json(
    {
      audiences: page.map((r) => batchView(r, busy.has(r.name) ? "IN_PROGRESS" : "APPLIED")),
      count: total?.n ?? 0,
      has_more,
      next_from: has_more ? (page.at(-1)?.name ?? null) : null,
    },
    200,
  );
};

export const viewAudience: RouteHandler<typeof routes.viewAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name, indexing_token } = c.req.valid("query");
  const db = drizzle(c.env.DB);
  const projection = audienceShard(await projectionFor(c.env, projectId)).db;
  const row = await findAudience(projection, projectId, name);
  let state: IndexingState;
  if (indexing_token !== undefined) {
    const found = await tokenState(db, projectId, name, indexing_token);
    if (!found) throw new ApiError("NOT_FOUND", `No indexing token ${indexing_token} for "${name}".`);
    state = found;
  } else {
    state = (await audiencesInProgress(db, projectId, [name])).has(name) ? "IN_PROGRESS" : "APPLIED";
  }
  return c.json(batchView(row, state), 200);
};
