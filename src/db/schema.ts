import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** The single source of truth for D1; `npm run db:generate` turns changes into migrations/. */

export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  inactivityDays: integer("inactivity_days").notNull().default(390),
  restKeyHash: text("rest_key_hash").notNull(),
  createdAt: text("created_at").notNull(),
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
 * Every accepted event, as the event queue's consumer lands it: the source of the
 * daily push and in-app exports. `(project_id, event_id)` makes redelivery harmless.
 */
export const events = sqliteTable(
  "events",
  {
    projectId: text("project_id").notNull(),
    eventId: text("event_id").notNull(),
    profileId: text("profile_id").notNull(),
    customId: text("custom_id"),
    installationId: text("installation_id"),
    appId: text("app_id"),
    name: text("name").notNull(),
    time: text("time").notNull(),
    attributes: text("attributes", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    source: text("source", { enum: ["api", "sdk"] }).notNull(),
    receivedAt: text("received_at").notNull(),
  },
  (t) => [
    uniqueIndex("events_project_event_idx").on(t.projectId, t.eventId),
    index("events_app_time_idx").on(t.appId, t.time),
  ],
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
    kind: text("kind", { enum: ["profiles_mass_update"] }).notNull(),
    total: integer("total").notNull(),
    chunks: integer("chunks").notNull(),
    /** Operations refused before anything was queued. */
    errors: text("errors", { mode: "json" }).$type<unknown[]>().notNull(),
    /** Set when the request could not be queued at all. */
    failure: text("failure"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("requests_project_idx").on(t.projectId, t.createdAt)],
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
