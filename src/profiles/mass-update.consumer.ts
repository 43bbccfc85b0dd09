import { drizzle } from "drizzle-orm/d1";
import { requestChunks } from "../db/schema";
import type { ProfileOpsMessage, TaskMessage } from "../queue/messages";
import { retryLater } from "../queue/retry";
import { applyOperations } from "./apply";
import type { OperationError } from "./operations";

/** Records a chunk's outcome once: a redelivered chunk finds its row and changes nothing. */
async function recordChunk(
  env: Env,
  body: ProfileOpsMessage,
  outcome: { applied: number; errors: OperationError[]; failed: boolean },
): Promise<void> {
  await drizzle(env.DB)
    .insert(requestChunks)
    .values({
      requestId: body.request_id,
      chunk: body.chunk,
      applied: outcome.applied,
      errors: outcome.errors,
      failed: outcome.failed ? 1 : 0,
      completedAt: new Date().toISOString(),
    })
    .onConflictDoNothing();
}

/** Applies mass-update chunks; the Durable Objects drop ops they already applied. */
export async function consumeMassUpdate(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      const body = m.body;
      const outcome = await applyOperations(env, body.project_id, body.items, {
        requestId: body.request_id,
        receivedAt: body.received_at,
        idPrefix: body.request_id,
      });
      await recordChunk(env, body, { ...outcome, failed: false });
      m.ack();
    } catch (error) {
      retryLater(m, "mass update chunk failed", error);
    }
  }
}

/** A chunk that failed every retry: its operations are reported failed on the request. */
export async function consumeDeadMassUpdate(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    const errors: OperationError[] = m.body.items.map((i) => ({
      bulk_index: i.bulk_index,
      category: "internal",
      reason: "Could not be applied after several attempts.",
    }));
    await recordChunk(env, m.body, { applied: 0, errors, failed: true });
    m.ack();
  }
}
