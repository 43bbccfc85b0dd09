import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { validateOperations } from "../../src/profiles/operations";
import { PROJECT_CHUNKS_PER_WINDOW } from "../../src/profiles/pace";
import { TASKS_QUEUE } from "../../src/queue/consumer";
import type { ProfileOpsMessage } from "../../src/queue/messages";

/* Chunks of a mass update delivered by hand, and the pace's bindings asked directly. */

/** Records a mass update of `chunks` chunks for `projectId`, as an accept would. */
export async function recordRequest(projectId: string, id: string, chunks: number) {
  await env.DB.prepare(
    "INSERT INTO requests (id, project_id, kind, total, chunks, errors, created_at) VALUES (?, ?, 'profiles_mass_update', ?, ?, '[]', ?)",
  )
    .bind(id, projectId, chunks, chunks, new Date().toISOString())
    .run();
}

export function chunkOf(projectId: string, requestId: string, customId: string): ProfileOpsMessage {
  const { valid } = validateOperations(
    [{ identifiers: { custom_id: customId }, attributes: { paced: true } }],
    Date.now(),
  );
  return {
    type: "profile_ops",
    request_id: requestId,
    project_id: projectId,
    chunk: 0,
    received_at: new Date().toISOString(),
    items: valid,
  };
}

export async function recorded(requestId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM request_chunks WHERE request_id = ?")
    .bind(requestId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Asks `binding` `times` times for `key`, many at once: a window is short next to a thousand calls in a row. */
export async function ask(binding: RateLimit, key: string, times: number): Promise<number> {
  let admitted = 0;
  for (let k = 0; k < times; k += 100) {
    const answers = await Promise.all(Array.from({ length: Math.min(100, times - k) }, () => binding.limit({ key })));
    admitted += answers.filter((a) => a.success).length;
  }
  return admitted;
}

/** Spends `projectId`'s pace for the current window, as a big job's chunks would. */
export async function spendPace(projectId: string) {
  await ask(env.MASS_UPDATE_PACE, projectId, PROJECT_CHUNKS_PER_WINDOW + 1);
}

export async function deliver(bodies: ProfileOpsMessage[], taskEnv: Env = env) {
  const batch = createMessageBatch<ProfileOpsMessage>(
    TASKS_QUEUE,
    bodies.map((body, k) => ({ id: `m${k}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batch as MessageBatch<unknown>, taskEnv, ctx);
  return getQueueResult(batch, ctx);
}
