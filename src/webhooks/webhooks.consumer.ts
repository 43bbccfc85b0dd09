import { and, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { webhookAttempts, webhooks } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { projectSigningSecret } from "../lib/signing";
import { retryLater } from "../queue/retry";
import { type Attempt, deliver } from "./deliver";
import type { WebhookDeliveryMessage } from "./items";
import { GIVE_UP_MS, webhookRuntime } from "./runtime";
import { allowsHttp, urlProblem } from "./url";

/** Attempts older than this leave the delivery log. */
const LOG_KEPT_MS = 7 * 24 * 60 * 60 * 1000;

type Outcome = "delivered" | "retrying" | "failed";

/**
 * The webhook queue's consumer: one message is one POST to one webhook. The messages of a batch
 * are delivered side by side and acknowledged or retried each on its own, so a receiver that
 * does not answer costs the others nothing but its own timeout.
 */
export async function consumeWebhookDeliveries(batch: MessageBatch<WebhookDeliveryMessage>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const outcome = await attemptDelivery(env, message.body, message.attempts);
        if (outcome === "retrying") {
          message.retry({ delaySeconds: webhookRuntime.retryDelaySeconds(message.attempts) });
        } else {
          message.ack();
        }
      } catch (error) {
        // Our own failure (D1 unavailable…), not the receiver's: try again later.
        retryLater(message, "webhook delivery failed", error);
      }
    }),
  );
}

/**
 * One attempt at a delivery, recorded in the log. A failure is retried until the delivery is
 * 24 h old, then recorded as failed. A webhook that has failed for 24 h without a success in
 * between is disabled, and what was queued for it is dropped as failed.
 */
export async function attemptDelivery(env: Env, msg: WebhookDeliveryMessage, attempt: number): Promise<Outcome> {
  const db = drizzle(env.DB);
  const hook = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, msg.webhook_id), eq(webhooks.projectId, msg.project_id)))
    .get();
  // A deleted webhook has nothing left to deliver to (its log went with it).
  if (!hook) return "failed";
  if (!hook.enabled) {
    await record(env, msg, attempt, "failed", {
      ok: false,
      status: null,
      error: `not sent: the webhook is disabled (${hook.disabledReason ?? "by its owner"})`,
      latencyMs: 0,
      excerpt: null,
    });
    return "failed";
  }
  // Checked again before each POST: a row written before a rule tightened (or the deployment's
  // ALLOW_HTTP_WEBHOOKS turned off) must not aim a signed POST at a host the rules now refuse.
  const problem = urlProblem(hook.url, allowsHttp(env));
  if (problem) {
    await record(env, msg, attempt, "failed", {
      ok: false,
      status: null,
      error: `not sent: the URL is not allowed (${problem})`,
      latencyMs: 0,
      excerpt: null,
    });
    return "failed";
  }
  const secret = await projectSigningSecret(env, msg.project_id);
  if (!secret) {
    // Nothing is sent unsigned: a project from before signing secrets rotates one first.
    await record(env, msg, attempt, "failed", {
      ok: false,
      status: null,
      error: "not sent: the project has no signing secret (rotate one to get it)",
      latencyMs: 0,
      excerpt: null,
    });
    return "failed";
  }

  const result = await deliver(hook.url, secret, msg.delivery_id, hook.id, msg.items);
  const now = webhookRuntime.now();
  const nowIso = new Date(now).toISOString();
  if (result.ok) {
    await db.batch([
      db.update(webhooks).set({ failingSince: null }).where(eq(webhooks.id, hook.id)),
      ...recordStatements(env, msg, attempt, "delivered", result, nowIso),
    ]);
    return "delivered";
  }

  const failingSince = hook.failingSince ?? nowIso;
  const disable = now - Date.parse(failingSince) >= GIVE_UP_MS;
  const expired = now - Date.parse(msg.created_at) >= GIVE_UP_MS;
  const outcome: Outcome = disable || expired ? "failed" : "retrying";
  await db.batch([
    db
      .update(webhooks)
      .set(
        disable
          ? {
              failingSince,
              enabled: false,
              disabledAt: nowIso,
              disabledReason: `every delivery failed for 24 h since ${failingSince}; last error: ${result.error}`,
              updatedAt: nowIso,
            }
          : { failingSince: sql`coalesce(${webhooks.failingSince}, ${nowIso})` },
      )
      .where(eq(webhooks.id, hook.id)),
    ...recordStatements(env, msg, attempt, outcome, result, nowIso),
  ]);
  if (disable) console.warn(JSON.stringify({ level: "warn", msg: "webhook disabled", webhook_id: hook.id }));
  return outcome;
}

function recordStatements(
  env: Env,
  msg: WebhookDeliveryMessage,
  attempt: number,
  outcome: Outcome,
  result: Attempt,
  nowIso: string,
) {
  const db = drizzle(env.DB);
  return [
    db.insert(webhookAttempts).values({
      id: uuidv7(Date.parse(nowIso)),
      webhookId: msg.webhook_id,
      deliveryId: msg.delivery_id,
      attempt,
      time: nowIso,
      outcome,
      status: result.status,
      latencyMs: result.latencyMs,
      error: result.error,
      responseExcerpt: result.excerpt,
      items: msg.items.length,
    }),
    db
      .delete(webhookAttempts)
      .where(
        and(
          eq(webhookAttempts.webhookId, msg.webhook_id),
          lt(webhookAttempts.time, new Date(Date.parse(nowIso) - LOG_KEPT_MS).toISOString()),
        ),
      ),
  ] as const;
}

async function record(env: Env, msg: WebhookDeliveryMessage, attempt: number, outcome: Outcome, result: Attempt) {
  const db = drizzle(env.DB);
  const [first, ...rest] = recordStatements(
    env,
    msg,
    attempt,
    outcome,
    result,
    new Date(webhookRuntime.now()).toISOString(),
  );
  await db.batch([first, ...rest]);
}
