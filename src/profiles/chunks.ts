import { and, asc, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import { chunkParts, requestChunks } from "../db/schema";
import { chunkBy, jsonBytes } from "../lib/chunk";
import { settleBounded } from "../lib/concurrency";
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

/** How many sends of one accept are in flight at once. */
const SENDS_IN_FLIGHT = 4;

/**
 * Sends chunks to the task queue, each send tried twice, a few sends at once; returns the
 * chunks that could not be sent, so the caller records them instead of losing them. `bytes`
 * is each message's size as the caller measured it: nothing is serialized twice here.
 */
export async function sendChunks(
  env: Env,
  messages: { body: ProfileOpsMessage; bytes: number }[],
): Promise<ProfileOpsMessage[]> {
  const groups = chunkBy(messages, MAX_SEND_MESSAGES, MAX_SEND_BYTES, (m) => m.bytes);
  const outcomes = await settleBounded(groups, SENDS_IN_FLIGHT, async (group) => {
    const batch = group.map(({ body }) => ({ body, contentType: "json" as const }));
    try {
      await env.TASKS.sendBatch(batch);
    } catch {
      await env.TASKS.sendBatch(batch);
    }
  });
  return outcomes.flatMap((outcome, k) => {
    if (outcome.status === "fulfilled") return [];
    console.error(
      JSON.stringify({ level: "error", msg: "mass update chunks not queued", error: String(outcome.reason) }),
    );
    return (groups[k] ?? []).map((m) => m.body);
  });
}

/** One stored part of a large identifier's operations. */
export interface StagedPart {
  requestId: string;
  chunk: number;
  part: number;
  items: Items;
  bytes: number;
}

/** Splits one identifier's operations into parts that each fit a D1 row comfortably. */
export function partsOf(requestId: string, chunk: number, items: Items): StagedPart[] {
  return chunkBy(items, Number.POSITIVE_INFINITY, MAX_PART_BYTES).map((part, k) => ({
    requestId,
    chunk,
    part: k,
    items: part,
    bytes: jsonBytes(part),
  }));
}

/** What one D1 round trip of an accept carries at most: a few parts, not the whole body at once. */
const MAX_STAGE_BYTES = 2 * 1024 * 1024;

/**
 * Writes the request's record and its stored parts: one statement each, in as few D1 round
 * trips as their size allows (usually one). The request row goes in the first.
 */
export async function writeStaged(env: Env, request: BatchItem<"sqlite">, parts: StagedPart[]): Promise<void> {
  const db = drizzle(env.DB);
  const runs = chunkBy(parts, Number.POSITIVE_INFINITY, MAX_STAGE_BYTES, (p) => p.bytes);
  const statements = (run: StagedPart[]) =>
    run.map(({ requestId, chunk, part, items }) =>
      db.insert(chunkParts).values({ requestId, chunk, part, items }).onConflictDoNothing(),
    );
  await db.batch([request, ...statements(runs[0] ?? [])]);
  for (const run of runs.slice(1)) {
    const [first, ...rest] = statements(run);
    if (first) await db.batch([first, ...rest]);
  }
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
