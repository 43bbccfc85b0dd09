import { drizzle } from "drizzle-orm/d1";
import { rowChunks, selectRows } from "../db/rows";
import { events } from "../db/schema";
import type { EventQueueMessage, EventsMessage } from "../queue/messages";
import { retryDelaySeconds } from "../queue/retry";
import { itemsOf } from "../webhooks/items";
import { publishWebhookItems } from "../webhooks/publish";

/** Lands events in D1; `(project_id, event_id)` makes a redelivery a no-op. */
async function landEvents(env: Env, messages: EventsMessage[]): Promise<void> {
  const db = drizzle(env.DB);
  const rows = messages.flatMap((m) =>
    m.events.map((e) => ({
      projectId: m.project_id,
      eventId: e.id,
      profileId: m.profile_id,
      customId: m.custom_id,
      installationId: m.installation_id,
      appId: m.app_id,
      name: e.name,
      time: e.time,
      attributes: e.attributes,
      source: e.source,
      receivedAt: m.received_at,
    })),
  );
  const [first, ...rest] = rowChunks(rows).map((chunk) =>
    db.insert(events).select(selectRows(events, chunk)).onConflictDoNothing(),
  );
  if (first) await db.batch([first, ...rest]);
}

/**
 * The event queue's consumer: lands the batch's events in D1, then queues their webhook
 * deliveries and those of identity transitions (it never calls a receiver itself).
 */
export async function consumeEvents(batch: MessageBatch<EventQueueMessage>, env: Env): Promise<void> {
  try {
    const bodies = batch.messages.map((m) => m.body);
    await landEvents(
      env,
      bodies.filter((b): b is EventsMessage => b.type === "events"),
    );
    await publishWebhookItems(env, bodies.flatMap(itemsOf));
    for (const m of batch.messages) m.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "event batch failed", error: String(error) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  }
}
