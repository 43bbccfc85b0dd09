import { drizzle } from "drizzle-orm/d1";
import { requests } from "../db/schema";
import { jsonBytes } from "../lib/chunk";
import { uuidv7 } from "../lib/ids";
import type { ProfileOpsMessage } from "../queue/messages";
import { allFailed, dropParts, recordChunk, sendChunks, storeParts } from "./chunks";
import type { OperationError, ProfileOperation } from "./operations";

/** Queue messages stay well under the 128 KB message limit. */
const MAX_CHUNK_BYTES = 96 * 1024;
const MAX_CHUNK_OPERATIONS = 100;

type Item = { bulk_index: number; op: ProfileOperation };

/**
 * Operations too large for one queue message are refused up front (as partial errors): they
 * can still be sent through the synchronous update, which does not go through a queue.
 */
export function refuseOversized(valid: Item[]) {
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

/** One chunk of work; `stored`: one identifier's operations, too large for a queue message. */
export interface PlannedChunk {
  items: Item[];
  stored: boolean;
}

/**
 * Splits a mass update into chunks that may be applied in any order: an identifier's operations
 * are never split, so they apply in request order in one call to its object (SPEC §5).
 * Identifiers that fit one message are packed together whole; an identifier too large for one
 * gets a chunk of its own whose operations are stored in D1 and named by its message.
 */
export function planChunks(valid: Item[]): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  let current: Item[] = [];
  let bytes = 0;
  for (const group of Map.groupBy(valid, (v) => `${v.op.identifier.kind}:${v.op.identifier.value}`).values()) {
    const size = jsonBytes(group);
    if (group.length > MAX_CHUNK_OPERATIONS || size > MAX_CHUNK_BYTES) {
      chunks.push({ items: group, stored: true });
      continue;
    }
    // Whole identifiers, packed in order while the chunk stays within its bounds.
    if (current.length && (current.length + group.length > MAX_CHUNK_OPERATIONS || bytes + size > MAX_CHUNK_BYTES)) {
      chunks.push({ items: current, stored: false });
      current = [];
      bytes = 0;
    }
    current.push(...group);
    bytes += size;
  }
  if (current.length) chunks.push({ items: current, stored: false });
  return chunks;
}

/**
 * Records the request and stores the large identifiers' operations, then queues the chunks.
 * The records come first so that a chunk applied before this function returns already has a
 * request to report on. Chunks that cannot be queued are recorded failed, naming their
 * operations: the request still has its ID, and the caller sees exactly what to resend.
 */
export async function enqueueMassUpdate(
  env: Env,
  projectId: string,
  total: number,
  valid: Item[],
  errors: OperationError[],
  now: number,
): Promise<string> {
  const id = uuidv7(now);
  const receivedAt = new Date(now).toISOString();
  const plan = planChunks(valid);
  await drizzle(env.DB).insert(requests).values({
    id,
    projectId,
    kind: "profiles_mass_update",
    total,
    chunks: plan.length,
    errors,
    createdAt: receivedAt,
  });
  const messages: ProfileOpsMessage[] = [];
  for (const [chunk, { items, stored }] of plan.entries()) {
    const body: ProfileOpsMessage = {
      type: "profile_ops",
      request_id: id,
      project_id: projectId,
      chunk,
      received_at: receivedAt,
      items: stored ? [] : items,
    };
    if (stored) body.parts = await storeParts(env, id, chunk, items);
    messages.push(body);
  }
  for (const body of await sendChunks(env, messages)) {
    await recordChunk(env, body, {
      applied: 0,
      errors: allFailed(plan[body.chunk]?.items ?? [], "This operation could not be queued; retry it."),
      failed: true,
    });
    await dropParts(env, body);
  }
  return id;
}
