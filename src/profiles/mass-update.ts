import { drizzle } from "drizzle-orm/d1";
import { requests } from "../db/schema";
import { jsonBytes } from "../lib/chunk";
import { uuidv7 } from "../lib/ids";
import type { ProfileOpsMessage } from "../queue/messages";
import { allFailed, dropParts, partsOf, recordChunk, sendChunks, writeStaged } from "./chunks";
import type { OperationError, ProfileOperation } from "./operations";

/** Queue messages stay well under the 128 KB message limit. */
const MAX_CHUNK_BYTES = 96 * 1024;
const MAX_CHUNK_OPERATIONS = 100;
/**
 * A chunk's cost is mostly its objects (one call each, a new object is created on the way), so
 * a chunk also names at most this many identifiers: one chunk is a short piece of work, and
 * other traffic gets its turn between chunks (docs/decisions.md, "Mass update pacing" and
 * "round two": chunks of 100 doubled the SDK path's p99 locally while they applied).
 */
export const MAX_CHUNK_IDENTIFIERS = 20;

type Item = { bulk_index: number; op: ProfileOperation };
/** An item with its serialized size, measured once. */
type Sized = Item & { bytes: number };

/**
 * Operations too large for one queue message are refused up front (as partial errors): they
 * can still be sent through the synchronous update, which does not go through a queue.
 */
export function refuseOversized(valid: Item[]) {
  const fits: Sized[] = [];
  const errors: OperationError[] = [];
  for (const item of valid) {
    const bytes = jsonBytes(item);
    if (bytes <= MAX_CHUNK_BYTES) fits.push({ ...item, bytes });
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
  bytes: number;
  stored: boolean;
}

const strip = ({ bulk_index, op }: Sized): Item => ({ bulk_index, op });

/**
 * Splits a mass update into chunks that may be applied in any order: an identifier's operations
 * are never split, so they apply in request order in one call to its object (SPEC §5).
 * Identifiers that fit one message are packed together whole; an identifier too large for one
 * gets a chunk of its own whose operations are stored in D1 and named by its message.
 */
export function planChunks(valid: Sized[]): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  let current: Item[] = [];
  let bytes = 0;
  let identifiers = 0;
  const close = () => {
    if (current.length) chunks.push({ items: current, bytes, stored: false });
    current = [];
    bytes = 0;
    identifiers = 0;
  };
  for (const group of Map.groupBy(valid, (v) => `${v.op.identifier.kind}:${v.op.identifier.value}`).values()) {
    // Each item's size plus its comma: the size of the group's JSON array, near enough.
    const size = group.reduce((n, g) => n + g.bytes + 1, 1);
    if (group.length > MAX_CHUNK_OPERATIONS || size > MAX_CHUNK_BYTES) {
      chunks.push({ items: group.map(strip), bytes: size, stored: true });
      continue;
    }
    // Whole identifiers, packed in order while the chunk stays within its bounds.
    if (
      current.length + group.length > MAX_CHUNK_OPERATIONS ||
      bytes + size > MAX_CHUNK_BYTES ||
      identifiers >= MAX_CHUNK_IDENTIFIERS
    ) {
      close();
    }
    for (const g of group) current.push(strip(g));
    bytes += size;
    identifiers++;
  }
  close();
  return chunks;
}

/**
 * Records the request and stages the large identifiers' operations (D1 round trips bounded by
 * bytes, not one per identifier), then queues the chunks (sends of up to 100 messages / 240 KB,
 * a few at once). The records come first so that a chunk applied before this function returns
 * already has a request to report on. Chunks that cannot be queued are recorded failed, naming
 * their operations: the request still has its ID, and the caller sees exactly what to resend.
 */
export async function enqueueMassUpdate(
  env: Env,
  projectId: string,
  total: number,
  valid: Sized[],
  errors: OperationError[],
  now: number,
): Promise<string> {
  const id = uuidv7(now);
  const receivedAt = new Date(now).toISOString();
  const plan = planChunks(valid);
  const messages: { body: ProfileOpsMessage; bytes: number }[] = [];
  const staged: ReturnType<typeof partsOf> = [];
  for (const [chunk, { items, bytes, stored }] of plan.entries()) {
    const body: ProfileOpsMessage = {
      type: "profile_ops",
      request_id: id,
      project_id: projectId,
      chunk,
      received_at: receivedAt,
      items: stored ? [] : items,
    };
    if (stored) {
      const parts = partsOf(id, chunk, items);
      body.parts = parts.length;
      staged.push(...parts);
    }
    messages.push({ body, bytes: stored ? 256 : bytes + 256 });
  }
  const request = drizzle(env.DB).insert(requests).values({
    id,
    projectId,
    kind: "profiles_mass_update",
    total,
    chunks: plan.length,
    errors,
    createdAt: receivedAt,
  });
  await writeStaged(env, request, staged);
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
