import type { RouteHandler } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { audienceFeedRuns, audienceFeeds } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { type Feed, INBOX_PREFIX } from "./feeds";
import type * as routes from "./feeds.routes";
import { audienceWriteDb, createAudienceRow, findAudience } from "./store";

function view(feed: Feed) {
  return {
    name: feed.name,
    header: feed.header,
    delimiter: feed.delimiter,
    column: feed.column,
    type: feed.type,
    mode: feed.mode,
    file: `${INBOX_PREFIX}${feed.projectId}/audiences/${feed.name}.csv`,
    updated_at: feed.updatedAt,
  };
}

export const putFeed: RouteHandler<typeof routes.putFeed, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  const body = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const projection = await audienceWriteDb(c.env, projectId);
  if (!(await createAudienceRow(projection, projectId, { name, type: body.type, description: null }))) {
    const existing = await findAudience(projection, projectId, name);
    if (existing.type !== body.type) {
      throw new ApiError("CONFLICT", `Audience "${name}" holds ${existing.type}, not ${body.type}.`);
    }
  }
  const row = { projectId, name, ...body, updatedAt: new Date().toISOString() };
  const feed = await db
    .insert(audienceFeeds)
    .values(row)
    .onConflictDoUpdate({ target: [audienceFeeds.projectId, audienceFeeds.name], set: row })
    .returning()
    .get();
  return c.json(view(feed), 200);
};

export const listRuns: RouteHandler<typeof routes.listRuns, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  const db = drizzle(c.env.DB);
  const mine = and(eq(audienceFeedRuns.projectId, projectId), eq(audienceFeedRuns.name, name));
  const [feed, runs] = await db.batch([
    db
      .select({ name: audienceFeeds.name })
      .from(audienceFeeds)
      .where(and(eq(audienceFeeds.projectId, projectId), eq(audienceFeeds.name, name))),
    db.select().from(audienceFeedRuns).where(mine).orderBy(desc(audienceFeedRuns.runId)).limit(100),
  ]);
  if (feed.length === 0) throw new ApiError("NOT_FOUND", `No feed "${name}".`);
  return c.json(
    {
      runs: runs.map((r) => ({
        run_id: r.runId,
        file: r.file,
        lines: r.lines,
        ids: r.ids,
        rejected: r.rejected,
        status: r.status,
        ...(r.reason ? { reason: r.reason } : {}),
        started_at: r.startedAt,
      })),
    },
    200,
  );
};
