import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** The single source of truth for D1; `npm run db:generate` turns changes into migrations/. */

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
    /**
     * `active`, or `orphaned`: orphans never match a query. `removed` is a tombstone left by a
     * privacy remove or a purge, at the highest version, so no late message can bring it back.
     */
    state: text("state", { enum: ["active", "orphaned", "removed"] }).notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    lastActivityAt: text("last_activity_at").notNull(),
    /** The object that holds the profile (`custom_id` or `installation`, and its identifier): where a purge asks. */
    holderKind: text("holder_kind", { enum: ["custom_id", "installation"] }),
    holderId: text("holder_id"),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId] }),
    index("profiles_custom_id_idx").on(t.projectId, t.customId),
    index("profiles_activity_idx").on(t.projectId, t.lastActivityAt),
    // Segment queries: a count checks `state` for each matching profile from this index alone
    // (no table read), and pages walk the active profiles in profile ID order.
    index("profiles_state_idx").on(t.projectId, t.state, t.profileId),
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
    // With the profile ID, a segment condition reads its matches from the index alone.
    index("profile_attributes_text_idx").on(t.projectId, t.name, t.valueText, t.profileId),
    index("profile_attributes_num_idx").on(t.projectId, t.name, t.valueNum, t.profileId),
  ],
);

/**
 * One row per item of an array attribute, so that `contains` is an index lookup on
 * `(project_id, name, item)` rather than a `json_each` scan of every profile's array.
 * Kept in step with `profile_attributes` by the projection: same version guard, same sweep.
 */
export const profileAttributeItems = sqliteTable(
  "profile_attribute_items",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    name: text("name").notNull(),
    item: text("item").notNull(),
    /** The profile version this row was written for; older rows are swept after each write. */
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId, t.name, t.item] }),
    index("profile_attribute_items_item_idx").on(t.projectId, t.name, t.item, t.profileId),
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
    /** The push token's key (src/messaging/subscription.ts `pushTokenKey`): a send's `tokens` find it here. */
    pushTokenKey: text("push_token_key"),
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.installationId] }),
    index("installations_profile_idx").on(t.projectId, t.profileId),
    index("installations_platform_idx").on(t.projectId, t.platform, t.profileId),
    index("installations_push_idx").on(t.projectId, t.pushOptin, t.profileId),
    index("installations_push_token_idx").on(t.projectId, t.pushTokenKey).where(sql`${t.pushTokenKey} IS NOT NULL`),
    // The optin_users export pages through an app's installations in this order.
    index("installations_app_seen_idx").on(t.projectId, t.appId, t.lastSeenAt, t.installationId),
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
 * Privacy requests (review and remove), processed through the privacy queue. The identifier
 * stays on the request after a remove: it is the record that the request was carried out.
 */
export const privacyRequests = sqliteTable(
  "privacy_requests",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    type: text("type", { enum: ["review", "remove"] }).notNull(),
    identifierType: text("identifier_type", { enum: ["custom_id", "installation_id"] }).notNull(),
    identifierValue: text("identifier_value").notNull(),
    callbackUrl: text("callback_url"),
    status: text("status", { enum: ["pending", "done", "failed"] }).notNull(),
    error: text("error"),
    archiveKey: text("archive_key"),
    /** When a remove of the reviewed identifier deleted the archive (it answers 410 from then on). */
    archiveDeletedAt: text("archive_deleted_at"),
    receipt: text("receipt", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: text("created_at").notNull(),
    completedAt: text("completed_at"),
    /** `pending` while a callback is being delivered, then `delivered` or `failed`. */
    callbackState: text("callback_state", { enum: ["pending", "delivered", "failed"] }),
    callbackAttempts: integer("callback_attempts").notNull().default(0),
    callbackError: text("callback_error"),
  },
  (t) => [index("privacy_requests_project_idx").on(t.projectId, t.createdAt)],
);

/**
 * What each step of a remove deleted, recorded once: a retried step finds its row and keeps
 * the first count, so a redelivered message neither deletes twice nor loses the receipt.
 */
export const erasureSteps = sqliteTable(
  "erasure_steps",
  {
    requestId: text("request_id").notNull(),
    step: text("step").notNull(),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    at: text("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.step] })],
);

/**
 * Webhook items to publish, written in the same transaction as the state they announce (a
 * privacy request's final status): drained right after, and again by any retry or the daily
 * cron until the publish succeeds, so a failed publish is never lost.
 */
export const webhookOutbox = sqliteTable("webhook_outbox", {
  id: text("id").primaryKey(),
  items: text("items", { mode: "json" }).$type<unknown[]>().notNull(),
  createdAt: text("created_at").notNull(),
});

/** Purge runs (the 03:30 cron or `POST /v1/admin/jobs/purge`), reported by `GET /v1/admin/jobs/purge/{id}`. */
export const purgeJobs = sqliteTable("purge_jobs", {
  id: text("id").primaryKey(),
  asOf: text("as_of").notNull(),
  dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
  origin: text("origin", { enum: ["cron", "admin"] }).notNull(),
  createdAt: text("created_at").notNull(),
});

/**
 * The pages of a purge: one row per queued message, `done` once it ran. The job is done when
 * no page is left; a page writes the rows of the pages it queued before it marks itself done.
 */
export const purgePages = sqliteTable(
  "purge_pages",
  {
    jobId: text("job_id").notNull(),
    page: text("page").notNull(),
    done: integer("done").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.page] })],
);

/** What a purge did to each profile it looked at. */
export const purgeResults = sqliteTable(
  "purge_results",
  {
    jobId: text("job_id").notNull(),
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    kind: text("kind", { enum: ["inactive", "orphan"] }).notNull(),
    outcome: text("outcome", { enum: ["removed", "would_remove", "spared"] }).notNull(),
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.profileId] })],
);

/**
 * The daily export files written so far, one row per file: what `GET /v1/exports` lists
 * without reading R2. `job` is the run that wrote the file (a redelivered message of that run
 * finds its row and does not write again).
 */
export const exportFiles = sqliteTable(
  "export_files",
  {
    projectId: text("project_id").notNull(),
    appId: text("app_id").notNull(),
    kind: text("kind").notNull(),
    date: text("date").notNull(),
    rows: integer("rows").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256").notNull(),
    job: text("job").notNull(),
    writtenAt: text("written_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.appId, t.kind, t.date] }),
    index("export_files_date_idx").on(t.projectId, t.date),
  ],
);

/** Hours of a daily export run that are sorted and staged; the 24th starts the files. */
export const exportHours = sqliteTable(
  "export_hours",
  {
    job: text("job").notNull(),
    appId: text("app_id").notNull(),
    hour: integer("hour").notNull(),
  },
  (t) => [primaryKey({ columns: [t.job, t.appId, t.hour] })],
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

/**
 * Webhooks (SPEC §5): where a project's events and identity changes are POSTed. `failing_since`
 * is the first failed attempt since the last success; 24 h of failing disables the webhook.
 */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    topics: text("topics", { mode: "json" }).$type<string[]>().notNull(),
    description: text("description"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    disabledAt: text("disabled_at"),
    failingSince: text("failing_since"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("webhooks_project_idx").on(t.projectId)],
);

/** Every delivery attempt of a webhook, kept for `GET /v1/webhooks/{id}/deliveries` (most recent first). */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    time: text("time").notNull(),
    outcome: text("outcome", { enum: ["delivered", "retrying", "failed"] }).notNull(),
    status: integer("status"),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error"),
    /** The first characters of the receiver's answer; bodies are not kept beyond this. */
    responseExcerpt: text("response_excerpt"),
    items: integer("items").notNull(),
  },
  (t) => [index("webhook_attempts_webhook_idx").on(t.webhookId, t.time)],
);

/*
 * The directory (SPEC §11), in the control database: which projection shard (a D1 binding,
 * `PROJECTION_<n>`) holds each project's projection rows. Read through src/db/shards.ts only.
 */

/**
 * One row per shard of a project, at `position` 0…k-1. A project on one shard has one row at
 * position 0; a project split over k shards (a later step) places a profile at
 * position = hash(profile_id) mod k.
 */
export const projectShards = sqliteTable(
  "project_shards",
  {
    projectId: text("project_id").notNull(),
    position: integer("position").notNull(),
    shard: text("shard").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.position] }), index("project_shards_shard_idx").on(t.shard)],
);

/**
 * One row (`id` 0): bumped by every change of a project's shards, so every isolate's cached
 * directory can see at one cheap read that it must forget what it holds.
 */
export const directoryEpoch = sqliteTable("directory_epoch", {
  id: integer("id").primaryKey(),
  epoch: integer("epoch").notNull(),
});

/**
 * A project's move to another shard (SPEC §11), a job with a status. `phase` says where the
 * writes go (both shards until `cleanup`) and where the reads go (the old shard until `flip`);
 * `cursor` is where the copy or the deletion of old rows goes on, so a stopped move resumes.
 */
export const shardMoves = sqliteTable(
  "shard_moves",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    fromShard: text("from_shard").notNull(),
    toShard: text("to_shard").notNull(),
    phase: text("phase", { enum: ["dual", "copy", "flipped", "cleanup", "delete", "done"] }).notNull(),
    cursor: text("cursor", { mode: "json" }),
    status: text("status", { enum: ["pending", "done", "failed"] }).notNull(),
    error: text("error"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("shard_moves_project_idx").on(t.projectId, t.status)],
);

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

/**
 * A project's messaging channels (src/messaging/): `webpush` (the VAPID key pair and contact),
 * `fcm` (the service account), `email` (the sender). `public` is what may be shown (the VAPID
 * public key, the sender address); `secret` is JSON encrypted with CHANNEL_SECRET_KEY.
 */
export const channels = sqliteTable(
  "channels",
  {
    projectId: text("project_id").notNull(),
    channel: text("channel", { enum: ["webpush", "fcm", "email"] }).notNull(),
    public: text("public"),
    secret: text("secret").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.channel] })],
);

/**
 * Transactional messages: one row per send, its content in `payload` (JSON), its progress in
 * `message_pieces` and `message_deliveries`. `idempotency_key` answers a repeated send for 24 h.
 */
export const messages = sqliteTable(
  "messages",
  {
    token: text("token").primaryKey(),
    projectId: text("project_id").notNull(),
    groupId: text("group_id").notNull(),
    idempotencyKey: text("idempotency_key"),
    payload: text("payload").notNull(),
    recipients: integer("recipients").notNull(),
    pieces: integer("pieces").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
    completedAt: text("completed_at"),
  },
  (t) => [uniqueIndex("messages_idempotency_idx").on(t.projectId, t.idempotencyKey)],
);

/** One row per queued piece of a message; `unreachable` counts its identifiers that reached nobody. */
export const messagePieces = sqliteTable(
  "message_pieces",
  {
    token: text("token").notNull(),
    piece: integer("piece").notNull(),
    done: integer("done").notNull().default(0),
    unreachable: integer("unreachable").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.token, t.piece] })],
);

/**
 * Where each (message, installation) stands: `sending` is written before the push service is
 * called, so a retried queue message never sends twice; `retry` after a 429/5xx; then `sent`,
 * `error` or `token_deleted`. `recorded` is set once the outcome event is on the profile.
 */
export const messageDeliveries = sqliteTable(
  "message_deliveries",
  {
    token: text("token").notNull(),
    installationId: text("installation_id").notNull(),
    state: text("state", { enum: ["sending", "retry", "sent", "error", "token_deleted"] }).notNull(),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    recorded: integer("recorded").notNull().default(0),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.token, t.installationId] })],
);

/**
 * Campaigns (SPEC §10): one message to everyone a target matches. `state`: `draft` (not live),
 * `scheduled` (live, waiting for `push_at`), `sending`, `sent`. The send itself is a `messages`
 * row with the campaign's token, so deliveries, claims and outcomes are the transactional ones.
 */
export const campaigns = sqliteTable(
  "campaigns",
  {
    token: text("token").primaryKey(),
    projectId: text("project_id").notNull(),
    name: text("name").notNull(),
    state: text("state", { enum: ["draft", "scheduled", "sending", "sent"] }).notNull(),
    /** `now` or an ISO 8601 time, as given. */
    pushTime: text("push_time").notNull(),
    /** When a live campaign starts: `push_time`, or when it went live for `now`. */
    pushAt: text("push_at"),
    /** `{where?, audiences?, platforms?}` (JSON). */
    targeting: text("targeting").notNull(),
    /** `[{language?, title, body, deeplink?}]` (JSON). */
    content: text("content").notNull(),
    sendRate: integer("send_rate"),
    /** Installations of these apps only (the 1.1 path's app); null: every app of the project. */
    appIds: text("app_ids"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    startedAt: text("started_at"),
  },
  (t) => [index("campaigns_project_idx").on(t.projectId, t.token), index("campaigns_due_idx").on(t.state, t.pushAt)],
);

/** One row per page of a campaign's fan-out once it is queued: a redelivered page queues nothing again. */
export const campaignPages = sqliteTable(
  "campaign_pages",
  {
    token: text("token").notNull(),
    page: integer("page").notNull(),
    targeted: integer("targeted").notNull(),
  },
  (t) => [primaryKey({ columns: [t.token, t.page] })],
);

/** An installation (or profile) that opened a campaign's push, once: the `opened` stat. */
export const campaignOpens = sqliteTable(
  "campaign_opens",
  {
    token: text("token").notNull(),
    opener: text("opener").notNull(),
  },
  (t) => [primaryKey({ columns: [t.token, t.opener] })],
);
