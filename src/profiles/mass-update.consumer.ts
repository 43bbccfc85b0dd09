import { recordDeadLetter } from "../dead-letters/record";
import { writeProfiles } from "../projection/project";
import type { TaskMessage } from "../queue/messages";
import { retryLater } from "../queue/retry";
import { type ApplyOutcome, applyOperations } from "./apply";
import { allFailed, dropParts, itemsOf, recordChunk } from "./chunks";
import { admitChunk, deferChunk } from "./pace";

/**
 * A chunk's objects are called a few at a time (the synchronous update calls 16): background
 * work holds few connections and little of the Worker at any moment, and the rate comes from
 * many consumer invocations at once (wrangler.toml, docs/performance.md).
 */
const CHUNK_IDENTIFIERS_IN_FLIGHT = 4;

/**
 * Applies a chunk, then writes its custom IDs' profiles to D1 in one round trip: their objects
 * queue no projection message each (one D1 write for the chunk, not a message per identifier
 * on the shared queue and a read of each object by its consumer). The write comes before the
 * chunk is recorded and acknowledged: a chunk that fails after its objects applied is delivered
 * again, and the objects answer their profiles again.
 */
async function apply(env: Env, body: TaskMessage, items: TaskMessage["items"]): Promise<ApplyOutcome> {
  const outcome = await applyOperations(
    env,
    body.project_id,
    items,
    { requestId: body.request_id, receivedAt: body.received_at, idPrefix: body.request_id, callerProjects: true },
    CHUNK_IDENTIFIERS_IN_FLIGHT,
  );
  await writeProfiles(env, outcome.projected ?? []);
  return outcome;
}

const hasInternal = (outcome: ApplyOutcome) => outcome.errors.some((e) => e.category === "internal");

/**
 * Applies mass-update chunks, one at a time, each only if its project is within its pace
 * (./pace.ts); a chunk over the pace is deferred, not run and not failed. A chunk where an
 * identifier's call failed is retried whole: the objects drop the operations they already
 * applied, so only the failed ones run again.
 */
export async function consumeMassUpdate(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      if (!(await admitChunk(env, m.body))) {
        await deferChunk(env, m);
        continue;
      }
      const outcome = await apply(env, m.body, await itemsOf(env, m.body));
      if (hasInternal(outcome)) throw new Error("an identifier's operations could not be applied");
      await recordChunk(env, m.body, { ...outcome, failed: false });
      await dropParts(env, m.body);
      m.ack();
    } catch (error) {
      retryLater(m, "mass update chunk failed", error);
    }
  }
}

/**
 * A chunk that failed every retry is tried once more, then recorded with what it actually
 * applied: the operations that still fail are reported `internal`, for the caller to resend.
 */
export async function consumeDeadMassUpdate(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      const items = await itemsOf(env, m.body);
      let outcome: ApplyOutcome;
      try {
        outcome = await apply(env, m.body, items);
      } catch {
        outcome = { applied: 0, errors: allFailed(items, "Could not be applied after several attempts.") };
      }
      const failed = hasInternal(outcome);
      await recordChunk(env, m.body, { ...outcome, failed });
      await dropParts(env, m.body);
      await recordDeadLetter(
        env,
        batch.queue,
        m,
        failed ? "recorded" : "replayed",
        failed ? "operations failed" : undefined,
      );
      m.ack();
    } catch (error) {
      retryLater(m, "dead mass update chunk not recorded", error);
    }
  }
}
