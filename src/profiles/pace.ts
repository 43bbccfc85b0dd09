import { projectionFor } from "../db/shards";
import type { TaskMessage } from "../queue/messages";

/**
 * Pacing of mass updates (docs/decisions.md, "Mass update pacing"; the rate it allows is worked
 * out in docs/performance.md). Each chunk asks two budgets before it runs: its project's
 * (MASS_UPDATE_PACE, keyed by project) and the one all projects share on each projection
 * database its writes end up in (MASS_UPDATE_SHARED_PACE, keyed by shard). Past either, the chunk is
 * put back on the queue for later instead of running: one project alone gets its own budget,
 * several at once split what the shared database can take, and the SDK and API traffic of every
 * project keeps the rest. A Rate Limiting binding costs no storage write per chunk, unlike a D1
 * or object counter.
 */

/** The bindings' window: a deferred chunk comes back after it, spread over one more window. */
export const PACE_WINDOW_SECONDS = 10;

/**
 * Chunks per window: one project's (MASS_UPDATE_PACE) and all projects' together on one
 * projection database (MASS_UPDATE_SHARED_PACE). Mirrors wrangler.toml, where the bindings take
 * them; a test holds the two equal. With chunks of up to 20 identifiers, 5,000 chunks per 10 s
 * is 10,000 identifiers a second. The shared one is what the database can give background work
 * (docs/performance.md, "Mass update rate"); it is larger than one project's, so that however
 * busy one project is, another always finds the difference free in every window.
 */
export const PROJECT_CHUNKS_PER_WINDOW = 5000;
export const SHARED_CHUNKS_PER_WINDOW = 7500;

/**
 * The shared budget's key for a projection database: each shard (SPEC §11) has a budget of its
 * own, so the background work a deployment takes grows with its shards.
 */
export const sharedPaceKey = (shardName: string) => `projection:${shardName}`;

/**
 * How many times a chunk is put back before it runs whatever the pace: about 10 to 19 minutes
 * of waiting. Deferrals are random, so under a steady flood one chunk could otherwise lose
 * every draw and be re-sent forever; past the cap it has waited its turn (docs/decisions.md,
 * "Mass update pacing").
 */
export const MAX_DEFERRALS = 60;

/**
 * Whether the chunk may run now: its project is within its budget and all projects within the
 * shared one, or it has waited long enough. The project's budget is asked first: a project over
 * its own spends nothing of the others'.
 */
export async function admitChunk(env: Env, body: TaskMessage): Promise<boolean> {
  if ((body.deferrals ?? 0) >= MAX_DEFERRALS) return true;
  const own = await env.MASS_UPDATE_PACE.limit({ key: body.project_id });
  if (!own.success) return false;
  // A chunk's rows land on its project's shards (and, while it moves, the other placement's);
  // a split project's chunk counts whole on each of its shards, which errs on the safe side.
  for (const { name } of (await projectionFor(env, body.project_id)).writeShards) {
    const shared = await env.MASS_UPDATE_SHARED_PACE.limit({ key: sharedPaceKey(name) });
    if (!shared.success) return false;
  }
  return true;
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
