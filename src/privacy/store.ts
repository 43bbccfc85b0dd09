import { and, desc, eq, inArray, lt, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { privacyRequests, webhookOutbox } from "../db/schema";
import { privacyCompletedItem, type WebhookItem } from "../webhooks/items";
import { publishWebhookItems } from "../webhooks/publish";

export type PrivacyRequestRow = typeof privacyRequests.$inferSelect;

/** Where a review's archive lives in R2. */
export const archiveKey = (projectId: string, requestId: string) => `privacy/${projectId}/${requestId}/archive.json`;

export async function loadRequest(env: Env, projectId: string, requestId: string) {
  return drizzle(env.DB)
    .select()
    .from(privacyRequests)
    .where(and(eq(privacyRequests.id, requestId), eq(privacyRequests.projectId, projectId)))
    .get();
}

export async function listRequests(env: Env, projectId: string, limit: number, cursor?: string) {
  return drizzle(env.DB)
    .select()
    .from(privacyRequests)
    .where(and(eq(privacyRequests.projectId, projectId), cursor ? lt(privacyRequests.id, cursor) : undefined))
    .orderBy(desc(privacyRequests.id))
    .limit(limit);
}

/** The API's view of a request, as GET answers and as the callback carries it. */
export function requestView(row: PrivacyRequestRow, base?: string) {
  return {
    request_id: row.id,
    type: row.type,
    identifier: { type: row.identifierType, value: row.identifierValue },
    status: row.status,
    ...(row.error ? { error: row.error } : {}),
    created_at: row.createdAt,
    completed_at: row.completedAt,
    ...(row.receipt ? { receipt: row.receipt } : {}),
    ...(row.archiveKey ? { archive_url: `${base ?? ""}/v1/privacy/requests/${row.id}/archive` } : {}),
    ...(row.callbackUrl
      ? {
          callback: {
            url: row.callbackUrl,
            state: row.callbackState,
            attempts: row.callbackAttempts,
            last_error: row.callbackError,
          },
        }
      : {}),
  };
}

/**
 * Moves a pending request to its final state, once: a redelivered message finds it final and
 * changes nothing. A callback, if any, is marked pending in the same statement.
 */
export async function finish(
  env: Env,
  row: PrivacyRequestRow,
  outcome: { status: "done" | "failed"; error?: string; receipt?: Record<string, unknown>; archiveKey?: string },
  at: string,
): Promise<boolean> {
  // Once per request, whatever ended it (done, failed, or dead-lettered).
  const receipt = outcome.receipt as { profile_id?: string } | undefined;
  const item = privacyCompletedItem(
    row.projectId,
    { request_id: row.id, type: row.type, status: outcome.status, completed_at: at },
    {
      profile_id: receipt?.profile_id ?? null,
      custom_id: row.identifierType === "custom_id" ? row.identifierValue : null,
      installation_id: row.identifierType === "installation_id" ? row.identifierValue : null,
    },
  );
  // The webhook item is written with the final status, in one transaction, while the request
  // is still pending: a publish that fails afterwards is drained again by the retry.
  const [, updated] = await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO webhook_outbox (id, items, created_at)
       SELECT ?1, ?2, ?3 FROM privacy_requests WHERE id = ?4 AND status = 'pending'
       ON CONFLICT DO NOTHING`,
    ).bind(outboxId(row.id), JSON.stringify([item]), at, row.id),
    env.DB.prepare(
      `UPDATE privacy_requests SET status = ?1, error = ?2, receipt = ?3, archive_key = ?4, completed_at = ?5,
         callback_state = ?6 WHERE id = ?7 AND status = 'pending'`,
    ).bind(
      outcome.status,
      outcome.error ?? null,
      outcome.receipt ? JSON.stringify(outcome.receipt) : null,
      outcome.archiveKey ?? null,
      at,
      row.callbackUrl ? "pending" : null,
      row.id,
    ),
  ]);
  await drainOutbox(env, [outboxId(row.id)]);
  return (updated?.meta.changes ?? 0) > 0;
}

/** The outbox row of a request's `privacy.completed` item. */
export const outboxId = (requestId: string) => `privacy_completed:${requestId}`;

/**
 * Publishes outbox rows and deletes them once published. Throws when the publish fails: the
 * rows stay for the retry (a repeated item has the same id, so receivers deduplicate).
 */
export async function drainOutbox(env: Env, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const db = drizzle(env.DB);
  const rows = await db.select().from(webhookOutbox).where(inArray(webhookOutbox.id, ids));
  if (rows.length === 0) return;
  await publishWebhookItems(
    env,
    rows.flatMap((r) => r.items as WebhookItem[]),
  );
  await db.delete(webhookOutbox).where(
    inArray(
      webhookOutbox.id,
      rows.map((r) => r.id),
    ),
  );
}

/** Outbox rows older than this are taken to be stuck: their own drain failed and no retry came. */
const STUCK_MS = 5 * 60_000;
const STUCK_PAGE = 100;

/**
 * The cron's drain of `privacy.completed` outbox rows a failed publish left, when no retry of
 * their request came to drain them (the message was acknowledged, or dead-lettered after its
 * status committed). A bounded number of pages a run; a publish that fails leaves the rows for
 * the next. Returns how many rows were published.
 */
export async function drainStuckOutbox(env: Env, now: Date, pages = 5): Promise<number> {
  const cutoff = new Date(now.getTime() - STUCK_MS).toISOString();
  let published = 0;
  for (let page = 0; page < pages; page++) {
    const rows = await drizzle(env.DB)
      .select({ id: webhookOutbox.id })
      .from(webhookOutbox)
      // GLOB, not LIKE: `_` in the prefix is a literal.
      .where(and(sql`${webhookOutbox.id} GLOB ${`${outboxId("")}*`}`, lte(webhookOutbox.createdAt, cutoff)))
      .limit(STUCK_PAGE);
    await drainOutbox(
      env,
      rows.map((r) => r.id),
    );
    published += rows.length;
    if (rows.length < STUCK_PAGE) break;
  }
  return published;
}
