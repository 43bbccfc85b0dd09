import { replayOrRecord } from "../dead-letters/record";
import { settleBounded } from "../lib/concurrency";
import type { ProjectionMessage } from "../queue/messages";
import { retryLater } from "../queue/retry";
import { dropProjectedChecks } from "./checks";
import { project, projectSettled } from "./project";

const FAILED = "projection message failed";
/** Messages projected at once when a batch's D1 write failed and each is tried alone. */
const MESSAGES_IN_FLIGHT = 8;

/**
 * Projects profile and installation changes into D1: one read per subject and one D1 round
 * trip for the whole batch. A message whose subject cannot be read retries alone while the
 * others are acknowledged; if the D1 write itself fails, each message is tried on its own so
 * that one bad row cannot hold back a hundred good ones.
 */
export async function consumeProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  let failed: Map<number, unknown>;
  let bodies = batch.messages.map((m) => m.body);
  try {
    bodies = await dropProjectedChecks(env, bodies);
    failed = await projectSettled(env, bodies);
  } catch (error) {
    if (batch.messages.length === 1) {
      const [only] = batch.messages;
      if (only) retryLater(only, FAILED, error);
      return;
    }
    const outcomes = await settleBounded(bodies, MESSAGES_IN_FLIGHT, (body) => project(env, [body]));
    failed = new Map();
    outcomes.forEach((outcome, k) => {
      if (outcome.status === "rejected") failed.set(k, outcome.reason);
    });
  }
  batch.messages.forEach((m, k) => {
    if (failed.has(k)) retryLater(m, FAILED, failed.get(k));
    else m.ack();
  });
}

/**
 * A projection message only says "re-read this subject", so replaying it is always safe: it
 * projects the current state, or is recorded for operators when even that fails.
 */
export async function consumeDeadProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => project(env, [body]));
}
