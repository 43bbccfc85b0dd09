import { and, desc, eq, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { privacyRequests } from "../db/schema";
import { privacyCompletedItem } from "../webhooks/items";
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
  const updated = await drizzle(env.DB)
    .update(privacyRequests)
    .set({
      status: outcome.status,
      error: outcome.error ?? null,
      receipt: outcome.receipt ?? null,
      archiveKey: outcome.archiveKey ?? null,
      completedAt: at,
      callbackState: row.callbackUrl ? "pending" : null,
    })
    .where(and(eq(privacyRequests.id, row.id), eq(privacyRequests.status, "pending")))
    .returning({ id: privacyRequests.id });
  if (updated.length === 0) return false;
  // Once per request, whatever ended it (done, failed, or dead-lettered).
  const receipt = outcome.receipt as { profile_id?: string } | undefined;
  await publishWebhookItems(env, [
    privacyCompletedItem(
      row.projectId,
      { request_id: row.id, type: row.type, status: outcome.status, completed_at: at },
      {
        profile_id: receipt?.profile_id ?? null,
        custom_id: row.identifierType === "custom_id" ? row.identifierValue : null,
        installation_id: row.identifierType === "installation_id" ? row.identifierValue : null,
      },
    ),
  ]);
  return true;
}
