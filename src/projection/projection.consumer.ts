import type { ProjectionMessage } from "../queue/messages";
import { retryDelaySeconds } from "../queue/retry";
import { project } from "./project";

/** Projects profile and installation changes into D1; the whole batch retries together. */
export async function consumeProjection(batch: MessageBatch<ProjectionMessage>, env: Env): Promise<void> {
  try {
    await project(
      env,
      batch.messages.map((m) => m.body),
    );
    for (const m of batch.messages) m.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "projection batch failed", error: String(error) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  }
}
