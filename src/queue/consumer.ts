import { consumeAudienceInbox } from "../audiences/feeds";
import { consumeMessagesQueue } from "../campaigns/schedule";
import { consumeDeadEvents, consumeEvents } from "../events/events.consumer";
import { consumeDeadExports, consumeExports, EXPORTS_DLQ, EXPORTS_QUEUE } from "../exports/exports.consumer";
import { MESSAGES_QUEUE } from "../messaging/send";
import { PRIVACY_DLQ, PRIVACY_QUEUE } from "../privacy/messages";
import { consumePrivacy, consumePrivacyDeadLetters } from "../privacy/privacy.consumer";
import { consumeDeadMassUpdate, consumeMassUpdate } from "../profiles/mass-update.consumer";
import { consumeDeadProjection, consumeProjection } from "../projection/projection.consumer";
import { consumePurge, PURGE_QUEUE } from "../purge/purge.consumer";
import { consumeWebhookDeliveries } from "../webhooks/webhooks.consumer";

/*
 * The queue handler only routes: each domain owns its consumer beside its code, and
 * `./retry.ts` holds the retry policy they share. A queue of wrangler.toml gets one line here.
 */

export const EVENTS_QUEUE = "edge-cdp-events";
export const EVENTS_DLQ = "edge-cdp-events-dlq";
export const TASKS_QUEUE = "edge-cdp-tasks";
export const TASKS_DLQ = "edge-cdp-tasks-dlq";
export const PROJECTION_QUEUE = "edge-cdp-projection";
export const WEBHOOKS_QUEUE = "edge-cdp-webhooks";
export const PROJECTION_DLQ = "edge-cdp-projection-dlq";
/** R2 event notifications of the EXPORTS bucket under `inbox/` (wrangler.toml). */
export const AUDIENCE_INBOX_QUEUE = "edge-cdp-audience-inbox";

/** Every dead-letter queue: each has a consumer, and operators see what reached them. */
export const DEAD_LETTER_QUEUES = [EVENTS_DLQ, PROJECTION_DLQ, TASKS_DLQ, PRIVACY_DLQ, EXPORTS_DLQ] as const;

// biome-ignore lint/suspicious/noExplicitAny: each consumer narrows the body of its own queue.
type Consumer = (batch: MessageBatch<any>, env: Env) => Promise<void>;

const consumers: Record<string, Consumer> = {
  [EVENTS_QUEUE]: consumeEvents,
  [EVENTS_DLQ]: consumeDeadEvents,
  [PROJECTION_QUEUE]: consumeProjection,
  [PROJECTION_DLQ]: consumeDeadProjection,
  [TASKS_QUEUE]: consumeMassUpdate,
  [TASKS_DLQ]: consumeDeadMassUpdate,
  [PRIVACY_QUEUE]: (batch, env) => consumePrivacy(batch, env),
  [PRIVACY_DLQ]: (batch, env) => consumePrivacyDeadLetters(batch, env),
  [PURGE_QUEUE]: consumePurge,
  [EXPORTS_QUEUE]: consumeExports,
  [EXPORTS_DLQ]: consumeDeadExports,
  [WEBHOOKS_QUEUE]: consumeWebhookDeliveries,
  [AUDIENCE_INBOX_QUEUE]: consumeAudienceInbox,
  [MESSAGES_QUEUE]: consumeMessagesQueue,
};

/** The queue handler: hands each batch to the consumer of its queue. */
export async function consume(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const consumer = consumers[batch.queue];
  if (consumer) return consumer(batch, env);
  console.error(JSON.stringify({ level: "error", msg: "no consumer for queue", queue: batch.queue }));
  batch.retryAll({ delaySeconds: 600 });
}
