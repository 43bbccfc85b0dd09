import { and, asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { chunkParts, requestChunks } from "../db/schema";
import { chunkBy } from "../lib/chunk";
import type { ProfileOpsMessage } from "../queue/messages";
import type { OperationError } from "./operations";

/** A send stays under the 256 KB and 100-message limits of `sendBatch`. */
const MAX_SEND_BYTES = 240 * 1024;
const MAX_SEND_MESSAGES = 100;
/** A stored part stays well under D1's 2 MB row. */
export const MAX_PART_BYTES = 512 * 1024;

type Items = ProfileOpsMessage["items"];

/** Records a chunk's outcome once: a redelivered chunk finds its row and changes nothing. */
export async function recordChunk(
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

/** Every operation of the chunk, reported failed with `reason`, for the caller to retry. */
export function allFailed(items: Items, reason: string): OperationError[] {
  return items.map((i) => ({ bulk_index: i.bulk_index, category: "internal" as const, reason }));
}

/**
 * Sends chunks to the task queue, each group tried twice; returns the chunks that could not
 * be sent, so the caller records them instead of losing them.
 */
export async function sendChunks(env: Env, messages: ProfileOpsMessage[]): Promise<ProfileOpsMessage[]> {
  const unsent: ProfileOpsMessage[] = [];
  for (const group of chunkBy(messages, MAX_SEND_MESSAGES, MAX_SEND_BYTES)) {
    const batch = group.map((body) => ({ body, contentType: "json" as const }));
    try {
      await env.TASKS.sendBatch(batch);
    } catch {
      try {
        await env.TASKS.sendBatch(batch);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "mass update chunks not queued", error: String(error) }));
        unsent.push(...group);
      }
    }
  }
  return unsent;
}

/** Stores one identifier's operations in parts; returns how many. */
export async function storeParts(env: Env, requestId: string, chunk: number, items: Items): Promise<number> {
  const db = drizzle(env.DB);
  const parts = chunkBy(items, Number.POSITIVE_INFINITY, MAX_PART_BYTES);
  // One statement per part (each up to 512 KB), a few parts per D1 round trip.
  for (const run of chunkBy(
    parts.map((part, k) => ({ part, k })),
    4,
    Number.POSITIVE_INFINITY,
    () => 0,
  )) {
    const [first, ...rest] = run.map(({ part, k }) =>
      db.insert(chunkParts).values({ requestId, chunk, part: k, items: part }).onConflictDoNothing(),
    );
    if (first) await db.batch([first, ...rest]);
  }
  return parts.length;
}

/**
 * The operations of a chunk: in its message, or read back from its stored parts. Parts already
 * deleted mean the chunk was recorded before: a redelivery then applies nothing.
 */
export async function itemsOf(env: Env, body: ProfileOpsMessage): Promise<Items> {
  if (!body.parts) return body.items;
  const rows = await drizzle(env.DB)
    .select({ items: chunkParts.items })
    .from(chunkParts)
    .where(and(eq(chunkParts.requestId, body.request_id), eq(chunkParts.chunk, body.chunk)))
    .orderBy(asc(chunkParts.part));
  return rows.flatMap((r) => r.items as Items);
}

/** Deletes a recorded chunk's stored parts. */
export async function dropParts(env: Env, body: ProfileOpsMessage): Promise<void> {
  if (!body.parts) return;
  await drizzle(env.DB)
    .delete(chunkParts)
    .where(and(eq(chunkParts.requestId, body.request_id), eq(chunkParts.chunk, body.chunk)));
}
