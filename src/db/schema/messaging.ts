import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/* Channels, messages, their deliveries, and campaigns (SPEC §10): control database. */

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
    /** Pieces finished so far, counted as each finishes: no count over `message_pieces`. */
    piecesDone: integer("pieces_done").notNull().default(0),
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
