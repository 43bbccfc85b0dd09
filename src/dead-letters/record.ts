import { drizzle } from "drizzle-orm/d1";
import { deadLetters } from "../db/schema";
import { loggable } from "../queue/retry";

/**
 * Records one dead-lettered message, once: a redelivery from the dead-letter queue finds its
 * row and changes nothing.
 */
export async function recordDeadLetter(
  env: Env,
  queue: string,
  message: Message<unknown>,
  outcome: "replayed" | "recorded",
  error: unknown,
): Promise<void> {
  const body = message.body as { project_id?: unknown } | null;
  await drizzle(env.DB)
    .insert(deadLetters)
    .values({
      queue,
      messageId: message.id,
      projectId: typeof body?.project_id === "string" ? body.project_id : null,
      outcome,
      error: error === undefined ? null : loggable(error),
      body: message.body,
      createdAt: new Date().toISOString(),
    })
    .onConflictDoNothing();
}

/**
 * A dead-letter queue's consumer: each message is tried once more (the consumers are
 * idempotent, so a replay is safe), then recorded as replayed or, with its error, as
 * recorded. Only a message whose record cannot be written is retried.
 */
export async function replayOrRecord<B>(
  batch: MessageBatch<B>,
  env: Env,
  replay: (body: B) => Promise<void>,
): Promise<void> {
  for (const m of batch.messages) {
    let error: unknown;
    try {
      await replay(m.body);
    } catch (e) {
      error = e;
      console.error(
        JSON.stringify({ level: "error", msg: "dead letter kept", queue: batch.queue, id: m.id, error: loggable(e) }),
      );
    }
    try {
      await recordDeadLetter(env, batch.queue, m, error === undefined ? "replayed" : "recorded", error);
      m.ack();
    } catch (e) {
      console.error(JSON.stringify({ level: "error", msg: "dead letter not recorded", id: m.id, error: loggable(e) }));
      m.retry({ delaySeconds: 60 });
    }
  }
}

/** How a dead letter was ended: the reason is kept on its row for operators. */
export interface DeadLetterEnd {
  outcome: "replayed" | "recorded";
  reason?: string;
}

/**
 * A dead-letter queue whose messages cannot simply be replayed: `end` puts each message's
 * request or job in its terminal state (failed, with the reason), then the message is recorded.
 * Each message on its own: one that throws is retried and never holds back the others. Nothing
 * of the body is logged, only the message ID: bodies carry custom IDs and installation IDs.
 */
export async function endDeadLetters<B>(
  batch: MessageBatch<B>,
  env: Env,
  end: (message: Message<B>) => Promise<DeadLetterEnd>,
): Promise<void> {
  for (const m of batch.messages) {
    try {
      const { outcome, reason } = await end(m);
      await recordDeadLetter(env, batch.queue, m, outcome, reason);
      m.ack();
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "dead letter not ended",
          queue: batch.queue,
          id: m.id,
          error: loggable(error),
        }),
      );
      m.retry({ delaySeconds: 60 });
    }
  }
}
