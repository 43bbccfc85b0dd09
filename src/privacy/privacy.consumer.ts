import { type DeadLetterEnd, endDeadLetters } from "../dead-letters/record";
import { mapBounded } from "../lib/concurrency";
import { failMove, type MoveMessage } from "../projection/move";
import { failPage } from "../purge/pages";
import { runPurgePage } from "../purge/purge";
import { retryLater } from "../queue/retry";
import { callbackDelaySeconds, deliverCallback, giveUpCallback } from "./callbacks";
import type { PrivacyMessage } from "./messages";
import { processRequests } from "./process";
import { finish, loadRequest } from "./store";

/** Queues the callback of a finished request whose callback has not been tried yet. */
async function sendCallback(env: Env, projectId: string, requestId: string): Promise<void> {
  const row = await loadRequest(env, projectId, requestId);
  if (row?.callbackUrl && row.callbackState === "pending" && row.callbackAttempts === 0) {
    await env.PRIVACY.send({ type: "privacy_callback", project_id: projectId, request_id: requestId });
  }
}

/**
 * Privacy requests and their callbacks. The batch's requests run together
 * ({@link processRequests}): the removes of a project read its staged history once, within one
 * allowance for the invocation. A request that throws is retried alone, with backoff; its steps
 * are idempotent. A callback the receiver refused is retried with the callback's own backoff
 * until the queue's retries run out (then the dead-letter consumer records it failed).
 */
export async function consumePrivacy(
  batch: MessageBatch<PrivacyMessage>,
  env: Env,
  now: () => Date = () => new Date(),
): Promise<void> {
  const requests: Message<PrivacyMessage & { type: "privacy_request" }>[] = [];
  for (const m of batch.messages) {
    if (m.body.type === "privacy_request") requests.push(m as Message<PrivacyMessage & { type: "privacy_request" }>);
  }
  if (requests.length > 0) {
    const results = await processRequests(
      env,
      requests.map((m) => ({ projectId: m.body.project_id, requestId: m.body.request_id })),
      now(),
    );
    await mapBounded(
      requests.map((m, k) => ({ m, result: results[k] })),
      6,
      async ({ m, result }) => {
        try {
          if (result instanceof Error) throw result;
          await sendCallback(env, m.body.project_id, m.body.request_id);
          m.ack();
        } catch (error) {
          retryLater(m, "privacy privacy_request failed", error);
        }
      },
    );
  }
  for (const m of batch.messages) {
    // A purge page queued here before pages had their own queue.
    if (m.body.type === "purge_projects" || m.body.type === "purge_profiles") {
      try {
        await runPurgePage(env, m.body, m.attempts > 1);
        m.ack();
      } catch (error) {
        retryLater(m, "purge page failed", error);
      }
      continue;
    }
    if (m.body.type !== "privacy_callback") continue;
    const { project_id: projectId, request_id: requestId } = m.body;
    try {
      if ((await deliverCallback(env, projectId, requestId, now())) === "retry") {
        m.retry({ delaySeconds: callbackDelaySeconds(env, m.attempts) });
      } else {
        m.ack();
      }
    } catch (error) {
      retryLater(m, `privacy ${m.body.type} failed`, error);
    }
  }
}

/**
 * What failed every retry, each message on its own (`endDeadLetters`): a request ends `failed`
 * (its callback still goes out), a callback is marked failed, a purge page is settled as failed
 * so its job ends `failed`. Every one is recorded for `GET /v1/admin/dead-letters`.
 */
export async function consumePrivacyDeadLetters(
  batch: MessageBatch<PrivacyMessage>,
  env: Env,
  now: () => Date = () => new Date(),
): Promise<void> {
  await endDeadLetters(batch, env, async (m): Promise<DeadLetterEnd> => {
    const body = m.body as PrivacyMessage | MoveMessage;
    if (body.type === "shard_move") {
      await failMove(env, body);
      return { outcome: "recorded", reason: "shard move step failed every retry" };
    }
    if (m.body.type === "purge_projects" || m.body.type === "purge_profiles") {
      await failPage(env, m.body);
      return { outcome: "recorded", reason: "purge page failed every retry" };
    }
    const { project_id: projectId, request_id: requestId } = m.body;
    if (m.body.type === "privacy_request") {
      const row = await loadRequest(env, projectId, requestId);
      if (row) await finish(env, row, { status: "failed", error: "internal" }, now().toISOString());
      await sendCallback(env, projectId, requestId);
      return { outcome: "recorded", reason: "privacy request failed every retry" };
    }
    await giveUpCallback(env, requestId);
    return { outcome: "recorded", reason: "callback failed every retry" };
  });
}
