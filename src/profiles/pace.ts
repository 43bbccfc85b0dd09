import type { TaskMessage } from "../queue/messages";

/**
 * Per-project pacing of mass updates (docs/decisions.md, "Mass update pacing"). Each chunk asks
 * MASS_UPDATE_PACE, keyed by its project, before it runs: past the project's budget (chunks per
 * window, wrangler.toml) the chunk is put back on the queue for later instead of running, so a
 * project's big job leaves the consumer, the objects and the shared D1 to other projects' work.
 * A Rate Limiting binding costs no storage write per chunk, unlike a D1 or object counter.
 */

/** The binding's window: a deferred chunk comes back after it, spread over one more window. */
export const PACE_WINDOW_SECONDS = 10;

/**
 * How many times a chunk is put back before it runs whatever the pace: about 10 to 19 minutes
 * of waiting. Deferrals are random, so under a steady flood one chunk could otherwise lose
 * every draw and be re-sent forever; past the cap it has waited its turn (docs/decisions.md,
 * "Mass update pacing").
 */
export const MAX_DEFERRALS = 60;

/** Whether the chunk may run now: its project is within its pace, or it has waited long enough. */
export async function admitChunk(env: Env, body: TaskMessage): Promise<boolean> {
  if ((body.deferrals ?? 0) >= MAX_DEFERRALS) return true;
  const { success } = await env.MASS_UPDATE_PACE.limit({ key: body.project_id });
  return success;
}

/** How long a deferred chunk waits: past the current window, spread so they do not return at once. */
export function deferSeconds(random = Math.random()): number {
  return PACE_WINDOW_SECONDS + Math.floor(random * PACE_WINDOW_SECONDS);
}

/**
 * Puts a chunk back on the queue as a fresh message, then acknowledges the delivered one. A
 * `retry()` would spend one of the chunk's attempts, which are there for failures: a chunk of
 * a big job deferred five times would reach the dead-letter queue though nothing failed. If
 * the send fails, the chunk is retried instead; applying a chunk twice changes nothing.
 */
export async function deferChunk(env: Env, message: Message<TaskMessage>): Promise<void> {
  const delaySeconds = deferSeconds();
  try {
    const body: TaskMessage = { ...message.body, deferrals: (message.body.deferrals ?? 0) + 1 };
    await env.TASKS.send(body, { contentType: "json", delaySeconds });
    message.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", msg: "deferred chunk not re-sent", error: String(error) }));
    message.retry({ delaySeconds });
  }
}
