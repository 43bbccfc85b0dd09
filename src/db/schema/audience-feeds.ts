import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* Batch's Audience API tokens and flat-file audience feeds (SPEC §9): control database. */

/**
 * Batch's Audience API answers each change with an indexing token, whose state the caller reads
 * back (`IN_PROGRESS` while the change is written, then `APPLIED`; `REPLACED` is derived at read
 * time from a later replace or removal of the same audience).
 */
export const audienceTokens = sqliteTable(
  "audience_tokens",
  {
    token: text("token").primaryKey(),
    projectId: text("project_id").notNull(),
    audience: text("audience").notNull(),
    kind: text("kind", { enum: ["create", "update", "replace", "remove"] }).notNull(),
    state: text("state", { enum: ["IN_PROGRESS", "APPLIED"] }).notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("audience_tokens_by_audience").on(t.projectId, t.audience, t.token)],
);

/** How a flat file `inbox/{project_id}/audiences/{name}.csv` is read into audience `name` (SPEC §9). */
export const audienceFeeds = sqliteTable(
  "audience_feeds",
  {
    projectId: text("project_id").notNull(),
    name: text("name").notNull(),
    header: integer("header", { mode: "boolean" }).notNull(),
    delimiter: text("delimiter").notNull(),
    /** The column: its 0-based position, or its header name. */
    column: text("column", { mode: "json" }).$type<number | string>().notNull(),
    type: text("type", { enum: ["custom_ids", "installation_ids"] }).notNull(),
    mode: text("mode", { enum: ["replace", "add"] }).notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.name] })],
);

/** One ingestion of a flat file: what it read and how it ended. */
export const audienceFeedRuns = sqliteTable(
  "audience_feed_runs",
  {
    runId: text("run_id").primaryKey(),
    projectId: text("project_id").notNull(),
    name: text("name").notNull(),
    file: text("file").notNull(),
    lines: integer("lines").notNull().default(0),
    ids: integer("ids").notNull().default(0),
    rejected: integer("rejected").notNull().default(0),
    status: text("status", { enum: ["running", "done", "failed"] }).notNull(),
    reason: text("reason"),
    startedAt: text("started_at").notNull(),
    /** Pieces of the file done (src/audiences/feed-pieces.ts): a piece moves it on only from its own number. */
    progress: integer("progress").notNull().default(0),
  },
  (t) => [index("audience_feed_runs_by_feed").on(t.projectId, t.name, t.runId)],
);
