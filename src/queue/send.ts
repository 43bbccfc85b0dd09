import { chunkBy, jsonBytes } from "../lib/chunk";

/**
 * What one `sendBatch` may carry: 100 messages and 256 KB. The bytes are bounded at 200 KB of
 * bodies, which leaves room for what the queue adds to each message.
 */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 200 * 1024;

/**
 * Sends messages in order, in as few `sendBatch` calls as those bounds allow, one at a time.
 * `bytes` is a message's size: its body's JSON unless told.
 */
export async function sendInBatches<Body>(
  queue: Queue<Body>,
  messages: MessageSendRequest<Body>[],
  bytes: (message: MessageSendRequest<Body>) => number = (m) => jsonBytes(m.body),
): Promise<void> {
  for (const chunk of chunkBy(messages, SEND_BATCH_MESSAGES, SEND_BATCH_BYTES, bytes)) await queue.sendBatch(chunk);
}
