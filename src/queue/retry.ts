/**
 * The retry policy every consumer shares. A message is retried on its own (never its whole
 * batch) with this backoff: 10 s, 20 s, 40 s… capped at 10 minutes.
 */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));
}

/** Logs why a message failed and schedules its retry with the shared backoff. */
export function retryLater(message: Message<unknown>, msg: string, error: unknown): void {
  console.error(JSON.stringify({ level: "error", msg, id: message.id, error: String(error) }));
  message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
}
