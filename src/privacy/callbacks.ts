import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { privacyRequests } from "../db/schema";
import { postSigned, projectSigningSecret } from "../lib/signing";
import { allowsHttp, urlProblem } from "../webhooks/url";
import { loadRequest, requestView } from "./store";

/** Backoff between callback attempts: base, twice that, four times… capped at an hour. */
export function callbackDelaySeconds(env: Env, attempts: number): number {
  const base = Number(env.PRIVACY_RETRY_BASE_SECONDS ?? "30");
  return Math.min(3600, (Number.isFinite(base) ? base : 30) * 2 ** Math.max(0, attempts - 1));
}

/** The `webhook-id` of a request's callback: the same on every attempt, so receivers deduplicate. */
export const callbackMessageId = (requestId: string) => `privacy_${requestId}`;

/**
 * POSTs a finished request's final state to its `callback_url`, signed with the project's
 * secret. `retry` when the receiver did not answer 2xx: the queue tries again later.
 */
export async function deliverCallback(
  env: Env,
  projectId: string,
  requestId: string,
  now: Date,
): Promise<"delivered" | "retry" | "skipped"> {
  const row = await loadRequest(env, projectId, requestId);
  if (!row?.callbackUrl || row.status === "pending" || row.callbackState !== "pending") return "skipped";
  const db = drizzle(env.DB);
  // Checked again at the door: a row written before the rules, or under another setting of
  // ALLOW_HTTP_WEBHOOKS, must not aim a signed POST at a private host.
  const problem = urlProblem(row.callbackUrl, allowsHttp(env));
  if (problem) {
    await db
      .update(privacyRequests)
      .set({ callbackState: "failed", callbackError: `The callback URL is refused: ${problem}` })
      .where(eq(privacyRequests.id, requestId));
    return "skipped";
  }
  const secret = await projectSigningSecret(env, projectId);
  if (!secret) {
    await db
      .update(privacyRequests)
      .set({ callbackState: "failed", callbackError: "The project has no signing secret; rotate it to get one." })
      .where(eq(privacyRequests.id, requestId));
    return "skipped";
  }
  const result = await postSigned({
    url: row.callbackUrl,
    secret,
    messageId: callbackMessageId(requestId),
    body: JSON.stringify(requestView(row)),
    at: now,
  });
  await db
    .update(privacyRequests)
    .set({
      callbackAttempts: row.callbackAttempts + 1,
      callbackError: result.error,
      ...(result.ok ? { callbackState: "delivered" as const } : {}),
    })
    .where(eq(privacyRequests.id, requestId));
  return result.ok ? "delivered" : "retry";
}

/** The callback failed every attempt: say so on the request. */
export async function giveUpCallback(env: Env, requestId: string): Promise<void> {
  await drizzle(env.DB)
    .update(privacyRequests)
    .set({ callbackState: "failed" })
    .where(eq(privacyRequests.id, requestId));
}
