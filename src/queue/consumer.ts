import { drizzle } from "drizzle-orm/d1";
import { events } from "../db/schema";
import type { EventMessage, QueueMessage } from "./messages";

/** Backoff for a retried message: 10 s, 20 s, 40 s… capped at 10 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));
}

/** Lands an event in D1; `(project_id, event_id)` makes a redelivery a no-op. */
async function landEvents(env: Env, messages: EventMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const db = drizzle(env.DB);
  // 11 columns a row: 9 rows a statement stays under D1's 100 bound parameters.
  const statements = [];
  for (let i = 0; i < messages.length; i += 9) {
    const rows = messages.slice(i, i + 9).map((m) => ({
      projectId: m.project_id,
      eventId: m.event.id,
      profileId: m.profile_id,
      customId: m.custom_id,
      installationId: m.installation_id,
      appId: m.app_id,
      name: m.event.name,
      time: m.event.time,
      attributes: m.event.attributes,
      source: m.source,
      receivedAt: m.received_at,
    }));
    statements.push(db.insert(events).values(rows).onConflictDoNothing());
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/** The event queue's consumer: acks what landed, retries the rest with backoff, then the DLQ takes over. */
export async function consume(batch: MessageBatch<QueueMessage>, env: Env): Promise<void> {
  const eventMessages = batch.messages.filter((m) => m.body.type === "event");
  try {
    await landEvents(
      env,
      eventMessages.map((m) => m.body),
    );
    for (const m of eventMessages) m.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "event batch failed", error: String(error) }));
    for (const m of eventMessages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  }
  for (const m of batch.messages) {
    if (m.body.type !== "event") {
      console.error(JSON.stringify({ level: "error", msg: "unknown message type", id: m.id }));
      m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    }
  }
}
