import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";

/** Delivers messages to the queue handler as the runtime would; message IDs are `${prefix}${k}`. */
export async function deliverTo<B>(queue: string, bodies: B[], options: { prefix?: string; attempts?: number } = {}) {
  const prefix = options.prefix ?? "m";
  const batch = createMessageBatch<B>(
    queue,
    bodies.map((body, k) => ({ id: `${prefix}${k}`, timestamp: new Date(), attempts: options.attempts ?? 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batch as MessageBatch<unknown>, env, ctx);
  return getQueueResult(batch, ctx);
}

/** The dead-letter rows of one message. */
export async function deadLetter(queue: string, messageId: string) {
  return env.DB.prepare("SELECT * FROM dead_letters WHERE queue = ? AND message_id = ?")
    .bind(queue, messageId)
    .first<{ outcome: string; error: string | null; project_id: string | null; body: string }>();
}
