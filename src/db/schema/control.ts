import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* Projects, apps, keys, requests and dead letters: the control database (DB). */

export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  inactivityDays: integer("inactivity_days").notNull().default(390),
  /** Days a daily export file is kept: past them the cron deletes it and the API answers 410. */
  exportRetentionDays: integer("export_retention_days").notNull().default(30),
  restKeyHash: text("rest_key_hash").notNull(),
  createdAt: text("created_at").notNull(),
  /**
   * The Standard Webhooks secret (`whsec_…`) that signs callbacks and webhooks. Kept as-is, not
   * hashed: signing needs the key itself (docs/decisions.md, "Signing secrets").
   */
  signingSecret: text("signing_secret"),
  signingSecretRotatedAt: text("signing_secret_rotated_at"),
});

export const apps = sqliteTable(
  "apps",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    platform: text("platform", { enum: ["ios", "android", "web"] }).notNull(),
    sdkKeyHash: text("sdk_key_hash").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("apps_project_idx").on(t.projectId)],
);

/**
 * Asynchronous requests (mass updates, on-demand exports), reported by GET /v1/requests/{id}.
 * Progress lives in `request_chunks`, one row per applied chunk, so a redelivered chunk
 * cannot count twice.
 */
export const requests = sqliteTable(
  "requests",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    kind: text("kind", { enum: ["profiles_mass_update", "profiles_export"] }).notNull(),
    total: integer("total").notNull(),
    chunks: integer("chunks").notNull(),
    /** Operations refused before anything was queued. */
    errors: text("errors", { mode: "json" }).$type<unknown[]>().notNull(),
    /** Set when the request could not be queued at all. */
    failure: text("failure"),
    /** What an on-demand export wrote: its key, rows, bytes and sha256. */
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    index("requests_project_idx").on(t.projectId, t.createdAt),
    // The retention run's scan: on-demand exports whose file is not deleted yet, oldest first.
    index("requests_export_expiry_idx")
      .on(t.createdAt)
      .where(sql`${t.kind} = 'profiles_export' AND ${t.result} IS NOT NULL AND ${t.result}->>'$.deleted_at' IS NULL`),
  ],
);

export const requestChunks = sqliteTable(
  "request_chunks",
  {
    requestId: text("request_id").notNull(),
    chunk: integer("chunk").notNull(),
    applied: integer("applied").notNull(),
    errors: text("errors", { mode: "json" }).$type<unknown[]>().notNull(),
    /** 1 when the chunk ended in the dead-letter queue. */
    failed: integer("failed").notNull().default(0),
    completedAt: text("completed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.chunk] })],
);

/**
 * The operations of one identifier too large for one queue message: stored here in parts, and
 * the chunk's message only names them. The consumer applies them in one call to the
 * identifier's object, so they apply in request order (SPEC §5), then deletes them.
 */
export const chunkParts = sqliteTable(
  "chunk_parts",
  {
    requestId: text("request_id").notNull(),
    chunk: integer("chunk").notNull(),
    part: integer("part").notNull(),
    items: text("items", { mode: "json" }).$type<unknown[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.chunk, t.part] })],
);

/*
 * The projection: what the Durable Objects hold, as D1 rows that segment queries can filter.
 * Written only by the projection consumer, each row guarded by the holder's version.
 */

/**
 * Every message a dead-letter queue received, once per (queue, message): `replayed` when the
 * dead-letter consumer could still apply it, `recorded` when it could not (the body is kept so
 * an operator can see and resend it). `GET /v1/admin/dead-letters` reports them.
 */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    queue: text("queue").notNull(),
    messageId: text("message_id").notNull(),
    projectId: text("project_id"),
    outcome: text("outcome", { enum: ["replayed", "recorded"] }).notNull(),
    error: text("error"),
    body: text("body", { mode: "json" }).$type<unknown>().notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.queue, t.messageId] }), index("dead_letters_time_idx").on(t.createdAt)],
);

/**
 * The check messages of synchronous updates that wrote their custom IDs' profiles to D1
 * themselves (src/profiles/apply-projected.ts): a check finds its row, deletes it, and reads
 * no object. A check without one (the update stopped before its write) reads them all.
 */
export const projectedChecks = sqliteTable("projected_checks", {
  checkId: text("check_id").primaryKey(),
  createdAt: text("created_at").notNull(),
});
