import { replayOrRecord } from "../dead-letters/record";
import { stageEvents } from "../exports/staging";
import type { EventQueueMessage, EventsMessage } from "../queue/messages";
import { consumeWholeOrEach } from "../queue/retry";
import { itemsOf } from "../webhooks/items";
import { publishWebhookItems } from "../webhooks/publish";

/**
 * Stages the batch's events in R2 (src/exports/staging.ts), where event history lives, then
 * queues the webhook deliveries of the events and identity transitions (it never calls a
 * receiver: each delivery is a message of the webhook queue). Staged objects are named by their
 * content, so a batch or a message delivered again rewrites the same objects.
 */
async function handle(env: Env, bodies: EventQueueMessage[]): Promise<void> {
  await stageEvents(
    env,
    bodies.filter((b): b is EventsMessage => b.type === "events"),
  );
  await publishWebhookItems(env, bodies.flatMap(itemsOf));
}

/** The event queue's consumer: a failing message retries alone. */
export async function consumeEvents(batch: MessageBatch<EventQueueMessage>, env: Env): Promise<void> {
  await consumeWholeOrEach(batch, "event message failed", (bodies) => handle(env, bodies));
}

/** Events that failed every retry are handled once more, or recorded where an operator sees them. */
export async function consumeDeadEvents(batch: MessageBatch<EventQueueMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => handle(env, [body]));
}
