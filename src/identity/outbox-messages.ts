import { chunkBy, jsonBytes } from "../lib/chunk";
import type {
  EventBundle,
  EventQueueItem,
  InstallationAndProfileChanged,
  ProjectionMessage,
  QueueMessage,
} from "../queue/messages";

/* The messages an object owes its queues (kept by the commit log, commit-log.ts), as they go out. */

export type OutboxQueue = "events" | "projection";

/** A message waiting in the outbox, under the number of its row; `bytes` is its JSON size, for sending in batches. */
export interface OutboxEntry {
  seq: number;
  queue: OutboxQueue;
  dedupe: string | null;
  body: QueueMessage;
  bytes: number;
}

/** The last message of each subject, in order: the projection consumer reads the current state. */
export function latestOnly(entries: OutboxEntry[]): OutboxEntry[] {
  const last = new Map<string, number>();
  entries.forEach((e, k) => {
    if (e.dedupe !== null) last.set(e.dedupe, k);
  });
  return entries.filter((e, k) => e.dedupe === null || last.get(e.dedupe) === k);
}

/**
 * Projection messages as they go out: an installation's change and one of a profile its object
 * holds become one message (one queue message, not two). Paired when sent, after `latestOnly`,
 * so no later message of either subject can replace half of the pair.
 */
export function paired(entries: OutboxEntry[]): OutboxEntry[] {
  const installation = entries.findIndex((e) => e.body.type === "installation_changed");
  const target = entries[installation]?.body;
  if (target?.type !== "installation_changed") return entries;
  const profile = entries.findIndex(
    (e) =>
      e.body.type === "profile_changed" &&
      e.body.holder?.kind === "installation" &&
      e.body.holder.id === target.installation_id,
  );
  const held = entries[profile]?.body;
  if (held?.type !== "profile_changed") return entries;
  const body: InstallationAndProfileChanged = {
    type: "installation_and_profile_changed",
    project_id: target.project_id,
    installation_id: target.installation_id,
    profile_id: held.profile_id,
  };
  const pair = { ...(entries[installation] as OutboxEntry), body, bytes: jsonBytes(body) };
  return entries.flatMap((e, k) => (k === installation ? [pair] : k === profile ? [] : [e]));
}

/** A queue message carries at most 128 KB: a bundle stays well under it. */
const MAX_BUNDLE_BYTES = 100 * 1024;

const isEventQueueItem = (e: OutboxEntry): e is OutboxEntry & { body: EventQueueItem } =>
  e.body.type === "events" || e.body.type === "identity";

/**
 * Event queue messages as they go out: those of one flush in as few messages as fit, each
 * group of two or more as one bundle (first contact: its events and its "created", one queue
 * message rather than two). Bundled at send time, as `paired` is: what is stored stays one
 * message each, so a retry bundles again from the rows. Anything else goes as it is.
 */
export function bundled(entries: OutboxEntry[]): OutboxEntry[] {
  const items = entries.filter(isEventQueueItem);
  const bundles = chunkBy(items, Number.POSITIVE_INFINITY, MAX_BUNDLE_BYTES, (e) => e.bytes).map((group) => {
    const last = group[group.length - 1] as OutboxEntry;
    if (group.length === 1) return last;
    const body: EventBundle = { type: "bundle", messages: group.map((e) => e.body) };
    return { ...last, body, bytes: jsonBytes(body) };
  });
  return [...entries.filter((e) => !isEventQueueItem(e)), ...bundles];
}

/**
 * A flush's two queues' messages as they go out: when it owes the event queue something, its
 * projection changes ride in the last event message (made a bundle if it is not one), so the
 * flush sends one queue message rather than two (a first contact: its events, its "created",
 * and its installation with its profile). The event queue's consumer projects them. What would
 * take that message past a bundle's size goes to the projection queue as before.
 */
export function carried(
  events: OutboxEntry[],
  projection: OutboxEntry[],
): { events: OutboxEntry[]; projection: OutboxEntry[] } {
  const last = events[events.length - 1];
  if (!last || projection.length === 0) return { events, projection };
  const base: EventBundle =
    last.body.type === "bundle" ? last.body : { type: "bundle", messages: [last.body as EventQueueItem] };
  const riding: ProjectionMessage[] = [];
  const left: OutboxEntry[] = [];
  let bytes = jsonBytes(base);
  for (const p of projection) {
    if (bytes + p.bytes + 1 > MAX_BUNDLE_BYTES) left.push(p);
    else {
      riding.push(p.body as ProjectionMessage);
      bytes += p.bytes + 1;
    }
  }
  if (riding.length === 0) return { events, projection };
  const body: EventBundle = { ...base, projection: [...(base.projection ?? []), ...riding] };
  return { events: [...events.slice(0, -1), { ...last, body, bytes: jsonBytes(body) }], projection: left };
}
