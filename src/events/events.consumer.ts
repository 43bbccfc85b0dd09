import { stageEvents } from "../exports/staging";
import type { EventsMessage } from "../queue/messages";
import { retryDelaySeconds } from "../queue/retry";

/**
 * The event queue's consumer: stages the batch's events in R2 (src/exports/staging.ts), where
 * event history lives; D1 keeps none. The whole batch retries together, and a redelivered batch
 * rewrites the same objects.
 */
export async function consumeEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
  try {
    await stageEvents(
      env,
      batch.messages.map((m) => m.body),
      batch.messages.map((m) => m.id),
    );
    for (const m of batch.messages) m.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "event batch failed", error: String(error) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  }
}
