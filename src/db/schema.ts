import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** The single source of truth for D1; `npm run db:generate` turns changes into migrations/. */

export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  inactivityDays: integer("inactivity_days").notNull().default(390),
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
 * Every accepted event, as the event queue's consumer lands it: the source of the
 * daily push and in-app exports. An event is identified per profile (SPEC §4): two
 * installations may both send op "3". `(project_id, profile_id, event_id)` makes
 * redelivery harmless.
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
    uniqueIndex("events_profile_event_idx").on(t.projectId, t.profileId, t.eventId),
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

export const profiles = sqliteTable(
  "profiles",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    customId: text("custom_id"),
    /** `active`, or `orphaned`: orphans never match a query. */
    state: text("state", { enum: ["active", "orphaned"] }).notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    lastActivityAt: text("last_activity_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId] }),
    index("profiles_custom_id_idx").on(t.projectId, t.customId),
    index("profiles_activity_idx").on(t.projectId, t.lastActivityAt),
  ],
);

export const profileAttributes = sqliteTable(
  "profile_attributes",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    name: text("name").notNull(),
    type: text("type").notNull(),
    /** Strings, dates and URLs (ISO dates compare as text); booleans as "true"/"false". */
    valueText: text("value_text"),
    valueNum: real("value_num"),
    /** Arrays, for `contains`. */
    valueJson: text("value_json"),
    /** The profile version this row was written for; older rows are swept after each write. */
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId, t.name] }),
    index("profile_attributes_text_idx").on(t.projectId, t.name, t.valueText),
    index("profile_attributes_num_idx").on(t.projectId, t.name, t.valueNum),
  ],
);

export const installations = sqliteTable(
  "installations",
  {
    projectId: text("project_id").notNull(),
    installationId: text("installation_id").notNull(),
    profileId: text("profile_id").notNull(),
    customId: text("custom_id"),
    appId: text("app_id"),
    platform: text("platform"),
    pushOptin: integer("push_optin", { mode: "boolean" }),
    lastSeenAt: text("last_seen_at").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.installationId] }),
    index("installations_profile_idx").on(t.projectId, t.profileId),
    index("installations_platform_idx").on(t.projectId, t.platform, t.profileId),
    index("installations_push_idx").on(t.projectId, t.pushOptin, t.profileId),
  ],
);

export const audiences = sqliteTable(
  "audiences",
  {
    projectId: text("project_id").notNull(),
    name: text("name").notNull(),
    type: text("type", { enum: ["custom_ids", "installation_ids"] }).notNull(),
    description: text("description"),
    size: integer("size").notNull().default(0),
    /** Members of other generations are a replace in progress, or one that failed. */
    generation: integer("generation").notNull().default(0),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.name] })],
);

export const audienceMembers = sqliteTable(
  "audience_members",
  {
    projectId: text("project_id").notNull(),
    audience: text("audience").notNull(),
    generation: integer("generation").notNull(),
    member: text("member").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.audience, t.generation, t.member] })],
);

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
