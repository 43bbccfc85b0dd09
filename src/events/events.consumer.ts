import { drizzle } from "drizzle-orm/d1";
import { rowChunks, selectRows } from "../db/rows";
import { events } from "../db/schema";
import { replayOrRecord } from "../dead-letters/record";
import type { EventsMessage } from "../queue/messages";
import { consumeWholeOrEach } from "../queue/retry";

/** Lands events in D1; `(project_id, profile_id, event_id)` makes a redelivery a no-op. */
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

/** The event queue's consumer: lands the batch's events in D1; a failing message retries alone. */
export async function consumeEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
  await consumeWholeOrEach(batch, "event message failed", (bodies) => landEvents(env, bodies));
}

/** Events that failed every retry are landed once more, or recorded where an operator sees them. */
export async function consumeDeadEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => landEvents(env, [body]));
}
