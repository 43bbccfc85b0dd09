import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { projects } from "./control";

/* Webhooks and their delivery attempts: control database. */

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
