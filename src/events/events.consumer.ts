import { recordCampaignOpens } from "../campaigns/opens";
import { replayOrRecord } from "../dead-letters/record";
import { dropFromHours, dropFromObjects, stageEvents } from "../exports/staging";
import { removedProfiles } from "../privacy/erase-d1";
import { projectSettled } from "../projection/project";
import {
  carriedProjection,
  type EventQueueMessage,
  type EventsMessage,
  type ProjectionMessage,
  unbundled,
} from "../queue/messages";
import { consumeWholeOrEach } from "../queue/retry";
import { sendInBatches } from "../queue/send";
import { itemsOf } from "../webhooks/items";
import { publishWebhookItems } from "../webhooks/publish";

/**
 * Stages the batch's events in R2 (src/exports/staging.ts), where event history lives, then
 * queues the webhook deliveries of the events and identity transitions (it never calls a
 * receiver: each delivery is a message of the webhook queue). Staged objects are named by their
 * content, so a batch or a message delivered again rewrites the same objects. Projects the
 * changes bundles carry meanwhile, with the projection consumer's code; one it cannot project
 * goes to the projection queue, to be retried there as any projection message.
 */
export async function handle(
  env: Env,
  messages: EventQueueMessage[],
  hooks: { beforeStaging?: () => Promise<void>; afterStaging?: () => Promise<void> } = {},
): Promise<void> {
  const bodies = messages.flatMap(unbundled);
  const projected = projectCarried(env, messages.flatMap(carriedProjection));
  // Awaited at the end; caught here too, so that a failure before then leaves no rejection
  // unhandled.
  projected.catch(() => {});
  const events = bodies.filter((b): b is EventsMessage => b.type === "events");
  const keyOf = (m: { project_id: string; profile_id: string }) => `${m.project_id}/${m.profile_id}`;
  const keys = () => events.map((m) => ({ projectId: m.project_id, profileId: m.profile_id }));
  // A profile removed while its events were on the queue gets none of them back (its D1
  // tombstone outlives any queue's retries), and no webhook item either.
  const removed = await removedProfiles(env, keys());
  // An earlier attempt may have staged these messages and failed before its late check took
  // them out again (the retry writes under other keys): look in the hours they fall in.
  await dropFromHours(
    env,
    events.filter((m) => removed.has(keyOf(m))),
    removed,
  );
  await hooks.beforeStaging?.();
  const staging = events.filter((m) => !removed.has(keyOf(m)));
  const written = await stageEvents(env, staging);
  await hooks.afterStaging?.();
  // A removal that tombstoned a profile between the check and the staging may have swept R2
  // before these objects landed; one tombstoned after they landed sweeps them itself. So the
  // objects this batch wrote are the only ones that can still hold the profile's events: take
  // them out of those, whatever the size of the project's history (the work is bounded by what
  // the batch wrote).
  const late = await removedProfiles(
    env,
    staging.map((m) => ({ projectId: m.project_id, profileId: m.profile_id })),
  );
  if (late.size) await dropFromObjects(env, written, late);
  await recordCampaignOpens(
    env,
    staging.filter((m) => !late.has(keyOf(m))),
  );
  await publishWebhookItems(env, bodies.filter((b) => !removed.has(keyOf(b)) && !late.has(keyOf(b))).flatMap(itemsOf));
  await projected;
}

/**
 * Projects the changes bundles carried. Those it cannot (a subject that cannot be read, or the
 * D1 write failing) go to the projection queue, which retries them on its own terms; rejects
 * only when that send fails, and then the message is retried whole.
 */
async function projectCarried(env: Env, changes: ProjectionMessage[]): Promise<void> {
  if (changes.length === 0) return;
  let failed: ProjectionMessage[];
  try {
    const reasons = await projectSettled(env, changes);
    failed = changes.filter((_c, k) => reasons.has(k));
  } catch {
    failed = changes;
  }
  await sendInBatches(
    env.PROJECTION,
    failed.map((body) => ({ body, contentType: "json" })),
  );
}

/** The event queue's consumer: a failing message retries alone. */
export async function consumeEvents(batch: MessageBatch<EventQueueMessage>, env: Env): Promise<void> {
  await consumeWholeOrEach(batch, "event message failed", (bodies) => handle(env, bodies));
}

/** Events that failed every retry are handled once more, or recorded where an operator sees them. */
export async function consumeDeadEvents(batch: MessageBatch<EventQueueMessage>, env: Env): Promise<void> {
  await replayOrRecord(batch, env, (body) => handle(env, [body]));
}
