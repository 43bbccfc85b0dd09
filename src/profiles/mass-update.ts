import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requests } from "../db/schema";
import { chunkBy, jsonBytes } from "../lib/chunk";
import { uuidv7 } from "../lib/ids";
import type { ProfileOpsMessage } from "../queue/messages";
import type { OperationError, ProfileOperation } from "./operations";

/** Queue messages stay well under the 128 KB message limit, and a send under 256 KB. */
const MAX_CHUNK_BYTES = 96 * 1024;
const MAX_CHUNK_OPERATIONS = 100;
const MAX_SEND_BYTES = 240 * 1024;

/**
 * Operations too large for one queue message are refused up front (as partial errors): they
 * can still be sent through the synchronous update, which does not go through a queue.
 */
export function refuseOversized(valid: { bulk_index: number; op: ProfileOperation }[]) {
  const fits: typeof valid = [];
  const errors: OperationError[] = [];
  for (const item of valid) {
    if (jsonBytes(item) <= MAX_CHUNK_BYTES) fits.push(item);
    else {
      errors.push({
        bulk_index: item.bulk_index,
        category: "operation",
        reason: `An operation of a mass update is at most ${MAX_CHUNK_BYTES / 1024} KB; send this one to /v1/profiles/update.`,
      });
    }
  }
  return { fits, errors };
}

/**
 * Records the request, then queues its chunks. The record comes first so that a chunk applied
 * before this function returns already has a request to report on.
 */
export async function enqueueMassUpdate(
  env: Env,
  projectId: string,
  total: number,
  valid: { bulk_index: number; op: ProfileOperation }[],
  errors: OperationError[],
  now: number,
): Promise<string> {
  const id = uuidv7(now);
  const receivedAt = new Date(now).toISOString();
  // One identifier's operations travel together, in order: chunks are applied in any order.
  const byIdentifier = Map.groupBy(valid, (v) => `${v.op.identifier.kind}:${v.op.identifier.value}`);
  const chunks = chunkBy([...byIdentifier.values()].flat(), MAX_CHUNK_OPERATIONS, MAX_CHUNK_BYTES);
  const db = drizzle(env.DB);
  await db.insert(requests).values({
    id,
    projectId,
    kind: "profiles_mass_update",
    total,
    chunks: chunks.length,
    errors,
    createdAt: receivedAt,
  });
  const messages: ProfileOpsMessage[] = chunks.map((items, chunk) => ({
    type: "profile_ops",
    request_id: id,
    project_id: projectId,
    chunk,
    received_at: receivedAt,
    items,
  }));
  try {
    for (const group of chunkBy(messages, 100, MAX_SEND_BYTES)) {
      await env.TASKS.sendBatch(group.map((body) => ({ body, contentType: "json" as const })));
    }
  } catch (error) {
    await db.update(requests).set({ failure: "The request could not be queued." }).where(eq(requests.id, id));
    throw error;
  }
  return id;
}
