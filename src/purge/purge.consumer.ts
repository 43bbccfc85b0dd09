import { type MoveMessage, runMove } from "../projection/move";
import { retryLater } from "../queue/retry";
import type { PurgeMessage } from "./pages";
import { runPurgePage } from "./purge";

export const PURGE_QUEUE = "edge-cdp-purge";

/**
 * The purge's pages, one a batch (wrangler.toml): a page that throws is retried with backoff;
 * every removal in it is idempotent by job and profile. What fails every retry reaches the
 * privacy dead-letter queue.
 */
export async function consumePurge(batch: MessageBatch<PurgeMessage | MoveMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      // A shard move's steps share the queue (src/projection/move.ts).
      if (m.body.type === "shard_move") await runMove(env, m.body);
      else await runPurgePage(env, m.body, m.attempts > 1);
      m.ack();
    } catch (error) {
      retryLater(m, "purge page failed", error);
    }
  }
}
