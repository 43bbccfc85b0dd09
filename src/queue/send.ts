import { chunkBy, jsonBytes } from "../lib/chunk";

/**
 * What one `sendBatch` may carry: 100 messages and 256 KB. The bytes are bounded at 200 KB of
 * bodies, which leaves room for what the queue adds to each message.
 */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 200 * 1024;

/** Sends messages in order, in as few `sendBatch` calls as those bounds allow (bodies sized as JSON). */
export async function sendInBatches<Body>(queue: Queue<Body>, messages: MessageSendRequest<Body>[]): Promise<void> {
  const batches = chunkBy(messages, SEND_BATCH_MESSAGES, SEND_BATCH_BYTES, (m) => jsonBytes(m.body));
  for (const batch of batches) await queue.sendBatch(batch);
}
