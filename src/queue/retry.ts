import { settleBounded } from "../lib/concurrency";

/**
 * The retry policy every consumer shares. A message is retried on its own, never with its
 * whole batch: one message that cannot be handled must not send a hundred good ones to the
 * dead-letter queue. Backoff: 10 s, 20 s, 40 s… capped at 10 minutes.
 */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));
}

/**
 * An error as a log line may hold it: a failed D1 query's message lists its bound values
 * (custom IDs, installation IDs, emails), so only the statement and the cause are kept.
 */
export function loggable(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const params = error.message.indexOf("\nparams:");
  if (params < 0) return String(error);
  const cause = error.cause === undefined ? "" : ` (${loggable(error.cause)})`;
  return `${error.name}: ${error.message.slice(0, params)}${cause}`;
}

/** Logs why a message failed (no identifiers: see `loggable`) and schedules its retry with the shared backoff. */
export function retryLater(message: Message<unknown>, msg: string, error: unknown): void {
  console.error(JSON.stringify({ level: "error", msg, id: message.id, error: loggable(error) }));
  message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
}

/** How many messages of a batch are handled at once when they are handled one by one. */
const MESSAGES_IN_FLIGHT = 8;

/**
 * Handles a batch in one go when it can (one D1 transaction for a hundred messages), and
 * message by message when it cannot: the good messages are acknowledged, only the failing
 * ones are retried.
 */
export async function consumeWholeOrEach<B>(
  batch: MessageBatch<B>,
  msg: string,
  handle: (bodies: B[]) => Promise<void>,
): Promise<void> {
  try {
    await handle(batch.messages.map((m) => m.body));
    for (const m of batch.messages) m.ack();
    return;
  } catch (error) {
    if (batch.messages.length === 1) {
      const [only] = batch.messages;
      if (only) retryLater(only, msg, error);
      return;
    }
  }
  const outcomes = await settleBounded(batch.messages, MESSAGES_IN_FLIGHT, (m) => handle([m.body]));
  outcomes.forEach((outcome, k) => {
    const m = batch.messages[k];
    if (!m) return;
    if (outcome.status === "fulfilled") m.ack();
    else retryLater(m, msg, outcome.reason);
  });
}
