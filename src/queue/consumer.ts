import { drizzle } from "drizzle-orm/d1";
import { requestChunks } from "../db/schema";
import { consumeExports, EXPORTS_QUEUE } from "../exports/exports.consumer";
import type { ExportMessage } from "../exports/exports.messages";
import { stageEvents } from "../exports/staging";
import { applyOperations } from "../profiles/apply";
import type { OperationError } from "../profiles/operations";
import { project } from "../projection/project";
import type { EventsMessage, ProfileOpsMessage, ProjectionMessage, TaskMessage } from "./messages";

export const EVENTS_QUEUE = "edge-cdp-events";
export const TASKS_QUEUE = "edge-cdp-tasks";
export const TASKS_DLQ = "edge-cdp-tasks-dlq";
export const PROJECTION_QUEUE = "edge-cdp-projection";

/** Backoff for a retried message: 10 s, 20 s, 40 s… capped at 10 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Stages each batch's events in R2 (src/exports/staging.ts): event history lives there, not in
 * D1. The whole batch retries together; a redelivered batch rewrites the same objects.
 */
async function consumeEvents(batch: MessageBatch<EventsMessage>, env: Env): Promise<void> {
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

/** Projects profile and installation changes into D1; the whole batch retries together. */
async function consumeProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  try {
    await project(
      env,
      batch.messages.map((m) => m.body),
    );
    for (const m of batch.messages) m.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "projection batch failed", error: String(error) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  }
}

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
async function consumeTasks(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
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
      console.error(
        JSON.stringify({ level: "error", msg: "mass update chunk failed", id: m.id, error: String(error) }),
      );
      m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    }
  }
}

/** A chunk that failed every retry: its operations are reported failed on the request. */
async function consumeDeadTasks(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
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

/** The queue handler: one consumer per queue of wrangler.toml. */
export async function consume(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case EVENTS_QUEUE:
      return consumeEvents(batch as MessageBatch<EventsMessage>, env);
    case PROJECTION_QUEUE:
      return consumeProjection(batch as MessageBatch<ProjectionMessage>, env);
    case TASKS_QUEUE:
      return consumeTasks(batch as MessageBatch<TaskMessage>, env);
    case EXPORTS_QUEUE:
      return consumeExports(batch as MessageBatch<ExportMessage>, env);
    case TASKS_DLQ:
      return consumeDeadTasks(batch as MessageBatch<TaskMessage>, env);
    default:
      console.error(JSON.stringify({ level: "error", msg: "no consumer for queue", queue: batch.queue }));
      batch.retryAll({ delaySeconds: 600 });
  }
}
