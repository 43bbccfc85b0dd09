import { replayOrRecord } from "../dead-letters/record";
import { stageEvents } from "../exports/staging";
import type { EventsMessage } from "../queue/messages";
import { consumeWholeOrEach } from "../queue/retry";

/**
 * The event queue's consumer: stages the batch's events in R2 (src/exports/staging.ts), where
 * event history lives; D1 keeps none. Objects are named by their content, so a batch or a
 * message delivered again rewrites the same objects; a failing message retries alone.
 */
export async function consumeEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
  await consumeWholeOrEach(batch, "event message failed", (bodies) => stageEvents(env, bodies).then(() => {}));
}

/** Events that failed every retry are staged once more, or recorded where an operator sees them. */
export async function consumeDeadEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => stageEvents(env, [body]).then(() => {}));
}
