/**
 * What webhook delivery takes from the outside world: the clock, the receivers' network and the
 * time a receiver gets to answer. Production uses the real ones; tests replace them to move the
 * clock by a day or to play a receiver, while our handlers, queues and D1 stay real.
 */
export interface WebhookRuntime {
  now: () => number;
  fetch: typeof fetch;
  /** A receiver that has not answered by then has failed this attempt. */
  timeoutMs: number;
  /** The delay before a failed delivery's next attempt; `attempts` counts the one that failed. */
  retryDelaySeconds: (attempts: number) => number;
}

/** Give up on a delivery, and disable a webhook that has failed throughout, after this long. */
export const GIVE_UP_MS = 24 * 60 * 60 * 1000;
const BASE_DELAY_SECONDS = 10;
const MAX_DELAY_SECONDS = 60 * 60;

/**
 * Exponential backoff with jitter: 10 s, 20 s, 40 s… capped at an hour, each drawn between half
 * and all of its step, so receivers coming back from an outage are not hit by every sender at
 * once. About 30 attempts fit in the 24 h a delivery is retried for.
 */
export function backoffSeconds(attempts: number, random: number = Math.random()): number {
  const step = Math.min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** Math.max(0, attempts - 1));
  return Math.max(1, Math.round(step * (0.5 + 0.5 * random)));
}

export const defaultRuntime = (): WebhookRuntime => ({
  now: () => Date.now(),
  fetch: (input, init) => fetch(input, init),
  timeoutMs: 10_000,
  retryDelaySeconds: (attempts) => backoffSeconds(attempts),
});

/** The runtime every delivery uses; tests swap parts of it and put them back. */
export const webhookRuntime: WebhookRuntime = defaultRuntime();
