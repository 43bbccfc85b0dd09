import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* Privacy requests, their erasure steps and completion outbox, and the inactive-profile purge: control database. */

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
  (t) => [
    index("privacy_requests_project_idx").on(t.projectId, t.createdAt),
    // The retention run's scan: review archives not deleted yet, by completion.
    index("privacy_requests_archive_expiry_idx")
      .on(t.completedAt)
      .where(sql`${t.type} = 'review' AND ${t.archiveKey} IS NOT NULL AND ${t.archiveDeletedAt} IS NULL`),
  ],
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
