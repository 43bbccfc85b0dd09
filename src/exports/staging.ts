import { mapBounded } from "../lib/concurrency";
import type { EventsMessage } from "../queue/messages";

/**
 * Event history in R2. The event queue's consumer writes each batch's events as NDJSON objects
 * under `events/{project}/{app}/{YYYY-MM-DD}/{HH}/{batch}.ndjson`, grouped by the UTC hour of
 * each event's own time, so a day's export reads exactly its 24 hour prefixes and an event
 * always lands in the file of its own day. API events carry no app and go under `_`.
 *
 * An object is written once per queue batch. `batch` is a hash of the batch's content, so a
 * batch delivered again rewrites the same key with the same bytes; a message retried in another
 * batch (or alone) lands again under another key, and readers drop the copy by
 * `(profile_id, id)`, which identifies an event (never `id` alone: two installations may use the
 * same op ID). The one rewrite is a privacy remove, which takes the profile's lines out.
 */

/** One event as staged: the queued event plus whom it belongs to. One JSON line each. */
export interface StagedEvent {
  time: string;
  installation_id: string | null;
  profile_id: string;
  custom_id: string | null;
  app_id: string | null;
  id: string;
  name: string;
  attributes: Record<string, unknown>;
  label: string | null;
  tags: string[];
  source: "api" | "sdk";
  received_at: string;
}

/** The app segment of keys for events that came through the API, with no app. */
export const NO_APP = "_";

export const stagedPrefix = (projectId: string) => `events/${projectId}/`;

/** The prefix holding one app's events of one UTC hour. */
export function hourPrefix(projectId: string, appId: string, date: string, hour: number): string {
  return `events/${projectId}/${appId}/${date}/${String(hour).padStart(2, "0")}/`;
}

/** Export order: timestamp, then installation; profile and event ID make it total. */
/** What orders staged events and tells two apart. */
export type StagedKey = Pick<StagedEvent, "time" | "installation_id" | "profile_id" | "id">;

export function compareStaged(a: StagedKey, b: StagedKey): number {
  return (
    cmp(a.time, b.time) ||
    cmp(a.installation_id ?? "", b.installation_id ?? "") ||
    cmp(a.profile_id, b.profile_id) ||
    cmp(a.id, b.id)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The staged events of some queue messages, grouped by object key, each group sorted. */
export function groupForStaging(messages: EventsMessage[], batchId: string): Map<string, StagedEvent[]> {
  const groups = new Map<string, StagedEvent[]>();
  for (const m of messages) {
    for (const e of m.events) {
      const time = new Date(e.time).toISOString();
      const staged: StagedEvent = {
        time,
        installation_id: m.installation_id,
        profile_id: m.profile_id,
        custom_id: m.custom_id,
        app_id: m.app_id,
        id: e.id,
        name: e.name,
        attributes: e.attributes,
        label: e.label,
        tags: e.tags,
        source: e.source,
        received_at: m.received_at,
      };
      const key = `${hourPrefix(m.project_id, m.app_id ?? NO_APP, time.slice(0, 10), Number(time.slice(11, 13)))}${batchId}.ndjson`;
      const group = groups.get(key);
      if (group) group.push(staged);
      else groups.set(key, [staged]);
    }
  }
  for (const group of groups.values()) group.sort(compareStaged);
  return groups;
}

export const toNdjson = (events: StagedEvent[]) => events.map((e) => `${JSON.stringify(e)}\n`).join("");

/**
 * Stages queue messages' events in R2, one object per (project, app, UTC hour). Objects are
 * named by a hash of the messages' content: the same messages delivered again get the same keys
 * and bytes, whether they come back as a batch or one by one.
 */
export async function stageEvents(env: Env, messages: EventsMessage[]): Promise<string[]> {
  const batchId = (await sha256Hex(messages.map((m) => JSON.stringify(m)).join("\n"))).slice(0, 32);
  const groups = groupForStaging(messages, batchId);
  await Promise.all(
    [...groups].map(([key, events]) =>
      env.EXPORTS.put(key, toNdjson(events), { httpMetadata: { contentType: "application/x-ndjson" } }),
    ),
  );
  return [...groups.keys()];
}

export function parseStaged(text: string): StagedEvent[] {
  const out: StagedEvent[] = [];
  for (const line of text.split("\n")) if (line) out.push(JSON.parse(line) as StagedEvent);
  return out;
}

/** Every key under a prefix, page by page (R2 lists at most 1,000 keys a call). */
export async function* listKeys(bucket: R2Bucket, prefix: string, startCursor?: string) {
  let cursor = startCursor;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    for (const object of page.objects) yield { key: object.key, cursor: page.truncated ? page.cursor : undefined };
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

export interface StagedScan {
  /** Events of the profile found (and, for a delete, removed). */
  events: number;
  /** Objects read. */
  objects: number;
  /** Where to continue; null when the whole project was scanned. */
  cursor: string | null;
}

const NDJSON = { httpMetadata: { contentType: "application/x-ndjson" } };

/**
 * Takes the events `drop` picks out of one staged object: rewrites it without them, or deletes
 * it when nothing else is left. The rewrite is conditional on the object being unchanged since
 * it was read: two removes (or a remove and the events consumer's sweep) rewriting the same
 * object at once would otherwise each write back the lines the other took out. On a conflict it
 * reads the object again. A delete needs no condition: every rewrite only takes lines out, so an
 * object that held nothing else still holds nothing else. Returns the events taken out.
 */
async function dropEvents(
  env: Env,
  key: string,
  drop: (e: StagedEvent) => boolean,
  // A cheap look at the raw text: false when the object cannot hold an event to drop.
  mayHold: (text: string) => boolean = () => true,
): Promise<StagedEvent[]> {
  let object = await env.EXPORTS.get(key);
  for (;;) {
    if (!object) return [];
    const text = await object.text();
    if (!mayHold(text)) return [];
    const all = parseStaged(text);
    const dropped = all.filter(drop);
    if (dropped.length === 0) return [];
    if (dropped.length === all.length) {
      await env.EXPORTS.delete(key);
      return dropped;
    }
    const kept = all.filter((e) => !drop(e));
    const written = await env.EXPORTS.put(key, toNdjson(kept), { ...NDJSON, onlyIf: { etagMatches: object.etag } });
    if (written) return dropped;
    object = await env.EXPORTS.get(key);
  }
}

/** Profile IDs named in staged NDJSON. They are UUIDs, so each appears as written here. */
function namedProfiles(text: string): Set<string> {
  const ids = new Set<string>();
  for (const match of text.matchAll(/"profile_id":"([^"\\]*)"/g)) ids.add(match[1] as string);
  return ids;
}

/**
 * Deletes profiles' staged events, for a privacy remove or purge: one listing of the project's
 * objects serves every profile given, so a purge page removing many profiles reads each object
 * once. It reads at most `limit` objects a call and says where to continue, so a caller fans a
 * large project out in bounded pieces (call again with `cursor` until it is null). An object
 * holding only those profiles' events is deleted; one holding others is rewritten without them.
 * `byProfile` counts the events taken out per profile.
 */
export async function deleteStagedEvents(
  env: Env,
  projectId: string,
  profileIds: string | readonly string[],
  { cursor, limit = 200 }: { cursor?: string; limit?: number } = {},
): Promise<StagedScan & { byProfile: Map<string, number> }> {
  const ids = new Set(typeof profileIds === "string" ? [profileIds] : profileIds);
  const page = await env.EXPORTS.list({ prefix: stagedPrefix(projectId), cursor, limit: Math.min(limit, 1000) });
  const byProfile = new Map<string, number>();
  const mayHold = (text: string) => {
    for (const id of namedProfiles(text)) if (ids.has(id)) return true;
    return false;
  };
  const dropped = await mapBounded(page.objects, 6, ({ key }) =>
    dropEvents(env, key, (e) => ids.has(e.profile_id), mayHold),
  );
  for (const e of dropped.flat()) byProfile.set(e.profile_id, (byProfile.get(e.profile_id) ?? 0) + 1);
  return {
    events: dropped.reduce((n, d) => n + d.length, 0),
    objects: page.objects.length,
    cursor: page.truncated ? page.cursor : null,
    byProfile,
  };
}

/**
 * Takes removed profiles' events out of the given objects (the ones a queue batch just wrote,
 * when a profile was tombstoned while they were being written): each object is rewritten
 * without them, or deleted when nothing else is left. `removed` holds `{project}/{profile}`.
 * A rewrite is conditional on the object being unchanged since it was read, so one racing
 * with a remove's own sweep of the same object reads it again rather than undoing the sweep.
 */
export async function dropFromObjects(env: Env, keys: string[], removed: Set<string>): Promise<number> {
  const counts = await mapBounded(keys, 6, async (key) => {
    const projectId = key.split("/")[1];
    return (await dropEvents(env, key, (e) => removed.has(`${projectId}/${e.profile_id}`))).length;
  });
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Takes removed profiles' events out of every object in the hours the given messages' events
 * fall in. An earlier attempt at these messages may have staged them under a key named by
 * another batch and failed before taking them out: a delivery that finds the profile removed
 * cannot know that key, but it knows the hours. Bounded by those hours' objects; it runs only
 * for messages of removed profiles, which are few (those in flight when a remove ran).
 */
export async function dropFromHours(env: Env, messages: EventsMessage[], removed: Set<string>): Promise<number> {
  if (messages.length === 0) return 0;
  const prefixes = new Set([...groupForStaging(messages, "").keys()].map((k) => k.slice(0, k.lastIndexOf("/") + 1)));
  const keys: string[] = [];
  for (const prefix of prefixes) for await (const { key } of listKeys(env.EXPORTS, prefix)) keys.push(key);
  return dropFromObjects(env, keys, removed);
}

/** A profile's staged events (for a privacy review), in the same bounded pages as the delete. */
export async function findStagedEvents(
  env: Env,
  projectId: string,
  profileId: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<StagedScan & { found: StagedEvent[] }> {
  const found: StagedEvent[] = [];
  const scan = await scanProfile(env, projectId, profileId, options, async (_key, kept, all) => {
    found.push(...all.filter((e) => !kept.includes(e)));
  });
  return { ...scan, found };
}

async function scanProfile(
  env: Env,
  projectId: string,
  profileId: string,
  { cursor, limit = 200 }: { cursor?: string; limit?: number },
  act: (key: string, kept: StagedEvent[], all: StagedEvent[]) => Promise<void>,
): Promise<StagedScan> {
  const page = await env.EXPORTS.list({ prefix: stagedPrefix(projectId), cursor, limit: Math.min(limit, 1000) });
  const needle = JSON.stringify(profileId);
  const counts = await mapBounded(page.objects, 6, async ({ key }) => {
    const object = await env.EXPORTS.get(key);
    if (!object) return 0;
    const text = await object.text();
    if (!text.includes(needle)) return 0;
    const all = parseStaged(text);
    const kept = all.filter((e) => e.profile_id !== profileId);
    await act(key, kept, all);
    return all.length - kept.length;
  });
  return {
    events: counts.reduce((a, b) => a + b, 0),
    objects: page.objects.length,
    cursor: page.truncated ? page.cursor : null,
  };
}
