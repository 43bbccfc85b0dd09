import { replayOrRecord } from "../dead-letters/record";
import type { ProjectionMessage } from "../queue/messages";
import { consumeWholeOrEach } from "../queue/retry";
import { project } from "./project";

/** Projects profile and installation changes into D1; a failing message retries alone. */
export async function consumeProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  await consumeWholeOrEach(batch, "projection message failed", (bodies) => project(env, bodies));
}

/**
 * A projection message only says "re-read this subject", so replaying it is always safe: it
 * projects the current state, or is recorded for operators when even that fails.
 */
export async function consumeDeadProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => project(env, [body]));
}
