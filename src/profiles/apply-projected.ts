import { chunkBy, jsonBytes } from "../lib/chunk";
import { recordProjected } from "../projection/checks";
import { writeProfiles } from "../projection/project";
import type { CustomIdsChanged } from "../queue/messages";
import { sendInBatches } from "../queue/send";
import { type ApplyMeta, type ApplyOutcome, applyOperations, type Item } from "./apply";

/** A check message stays well under the 128 KB a queue message may carry, whatever the custom IDs' length. */
const CHECK_MESSAGE_BYTES = 64 * 1024;

/** How long the check waits by default: longer than an update of 200 operations takes. */
const CHECK_DELAY_SECONDS = 120;

/** The custom IDs the operations name, each once, in check messages of bounded size. */
export function checkMessages(requestId: string, projectId: string, items: Item[]): CustomIdsChanged[] {
  const customIds = [
    ...new Set(items.filter((i) => i.op.identifier.kind === "custom_id").map((i) => i.op.identifier.value)),
  ];
  return chunkBy(customIds, Number.POSITIVE_INFINITY, CHECK_MESSAGE_BYTES, (id) => jsonBytes(id) + 1).map(
    (custom_ids, k) => ({
      type: "custom_ids_changed",
      check_id: `${requestId}:${k}`,
      project_id: projectId,
      custom_ids,
    }),
  );
}

/**
 * A synchronous update (the Profile API's, Batch's Custom Data and events): applies the
 * operations, then writes the profiles of the custom IDs it updated to D1 itself, in one round
 * trip per shard, as a mass-update chunk does, after it answers (`waitUntil`). Their objects queue no projection message each
 * (a queue message, the row that forgets it once sent and the outbox's alarm, per custom ID).
 *
 * What the outbox guaranteed, a check message keeps: queued before anything is applied, delayed
 * past the time the update takes, it has the projection read those custom IDs' profiles again,
 * unless the update recorded that it wrote them (`projected_checks`). An update that stops
 * between its objects' commits and its D1 write (the caller gone, the Worker ended) leaves the
 * projection behind for that long at most, not until the next change.
 * Installations' operations project through their objects' outboxes, as before.
 */
export async function applyAndProject(
  env: Env,
  projectId: string,
  items: Item[],
  meta: Omit<ApplyMeta, "callerProjects">,
  waitUntil: (write: Promise<unknown>) => void,
): Promise<ApplyOutcome> {
  const delaySeconds = Number(env.PROJECTION_CHECK_DELAY_SECONDS ?? CHECK_DELAY_SECONDS);
  const checks = checkMessages(meta.requestId, projectId, items);
  await sendInBatches(
    env.PROJECTION,
    checks.map((body) => ({ body, contentType: "json" as const, delaySeconds })),
  );
  const outcome = await applyOperations(env, projectId, items, { ...meta, callerProjects: true });
  // An identifier whose call failed may have committed all the same: its check reads it.
  const whole = !outcome.errors.some((e) => e.category === "internal");
  // After the answer, as the outbox's message was: a profile of thousands of array items takes
  // a while to project, and the caller waits for its objects, not for D1.
  waitUntil(
    (async () => {
      await writeProfiles(env, outcome.projected ?? []);
      if (whole) await recordProjected(env, checks);
    })().catch((error) =>
      console.warn(
        JSON.stringify({ level: "warn", msg: "projection write failed; the check will", error: String(error) }),
      ),
    ),
  );
  return outcome;
}

/** What a request's operations are applied as: its ID (their tokens' prefix) and when it came in. */
export function requestMeta(c: { get(key: "requestId"): string }, now: number): Omit<ApplyMeta, "callerProjects"> {
  const requestId = c.get("requestId");
  return { requestId, receivedAt: new Date(now).toISOString(), idPrefix: requestId };
}

/** A request's `waitUntil`, for `applyAndProject`. */
export function later(c: { executionCtx: { waitUntil(promise: Promise<unknown>): void } }) {
  return (write: Promise<unknown>) => c.executionCtx.waitUntil(write);
}
