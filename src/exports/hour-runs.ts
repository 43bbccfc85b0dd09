import type { ExportMessage } from "./exports.messages";
import { type Cell, csvRows, type EventKind, eventRow, kindOf } from "./files";
import { liveProfiles } from "./live";
import { ndjsonBatches } from "./ndjson";
import { compareStaged, hourPrefix, type StagedEvent, type StagedKey } from "./staging";
import { ObjectWriter } from "./upload";

/**
 * One app's hour of push and in-app events, sorted into one CSV "run" per kind, holding a
 * bounded number of events in memory whatever the hour holds (an external merge sort):
 *
 * 1. The hour's staged objects are streamed in key order into a buffer, an event at a time. An
 *    hour that fits in the buffer is sorted there and written as its runs at once: the common
 *    case, no extra object.
 * 2. Past that, each full buffer is sorted, cleared of events of profiles no longer live, and
 *    written as a sorted sub-run (NDJSON), in the middle of a staged object if need be. Once a
 *    message has written `subRunsPerMessage` of them, it finishes the object it is reading and
 *    queues the rest of the listing as another `daily_hour` message.
 * 3. `daily_merge` messages merge at most `fanIn` sub-runs at a time, streaming, level by level,
 *    until one merge writes the runs themselves. Copies of one event (a redelivered batch staged
 *    twice) meet side by side in the merge and are written once.
 *
 * Memory: a buffer of `subRunEvents` events plus one chunk of the object being read, whatever
 * the size of a staged object; or `fanIn` open streams and one multipart part per kind.
 */

export interface HourLimits {
  /** Events sorted in memory at once. */
  subRunEvents: number;
  /** Sub-runs one message writes before queueing the rest of the hour. */
  subRunsPerMessage: number;
  /** Sub-runs merged at once. R2 allows six connections in flight per invocation: inputs + output. */
  fanIn: number;
}

export const HOUR_LIMITS: HourLimits = { subRunEvents: 10_000, subRunsPerMessage: 20, fanIn: 4 };

/** An event as a run holds it: its sort key, its file, and its CSV cells. */
interface Entry extends StagedKey {
  kind: EventKind;
  row: Cell[];
}

type HourMessage = Extract<ExportMessage, { type: "daily_hour" }>;
type MergeMessage = Extract<ExportMessage, { type: "daily_merge" }>;
type Hour = Pick<HourMessage, "job" | "project_id" | "app_id" | "date" | "hour">;

const EVENT_KINDS: EventKind[] = ["push_events", "inapp_events"];
const LIST_PAGE = 100;
const ROWS_PER_SLICE = 1000;
const hh = (hour: number) => String(hour).padStart(2, "0");

export const runKey = (job: string, appId: string, kind: EventKind, hour: number) =>
  `exports-work/${job}/${appId}/${kind}/${hh(hour)}.csv`;
/** Where a run's row count is kept when the run was written in parts (no custom metadata then). */
export const runRowsKey = (runKeyValue: string) => `${runKeyValue}.rows`;
const subRunPrefix = (h: Hour) => `exports-work/${h.job}/${h.app_id}/sub/${hh(h.hour)}/`;
const subRunKey = (h: Hour, level: number, n: number) =>
  `${subRunPrefix(h)}${level}/${String(n).padStart(6, "0")}.ndjson`;

const hourOf = (m: Hour): Hour => ({
  job: m.job,
  project_id: m.project_id,
  app_id: m.app_id,
  date: m.date,
  hour: m.hour,
});

/** The export's events of a staged object, a chunk at a time (the other events are skipped). */
async function* entriesIn(object: R2ObjectBody): AsyncGenerator<Entry> {
  for await (const events of ndjsonBatches<StagedEvent>(object.body)) {
    for (const e of events) {
      const kind = kindOf(e.name);
      if (kind === null) continue;
      yield {
        time: e.time,
        installation_id: e.installation_id,
        profile_id: e.profile_id,
        id: e.id,
        kind,
        row: eventRow(kind, e),
      };
    }
  }
}

const sameEvent = (a: StagedKey | undefined, b: StagedKey) =>
  a !== undefined && a.profile_id === b.profile_id && a.id === b.id && a.time === b.time;

/** Sorted, without copies, and only events of profiles exports may show. */
async function prepare(env: Env, projectId: string, entries: Entry[]): Promise<Entry[]> {
  entries.sort(compareStaged);
  const unique = entries.filter((e, i) => !sameEvent(entries[i - 1], e));
  const live = await liveProfiles(env, projectId, [...new Set(unique.map((e) => e.profile_id))]);
  return unique.filter((e) => live.has(e.profile_id));
}

/**
 * Reads the hour's staged objects from where the message left off. Writes the runs when the
 * whole hour fit in memory; otherwise sub-runs, then queues what follows. Returns true when
 * the hour's runs are written.
 */
export async function sortHour(
  env: Env,
  msg: HourMessage,
  queue: (messages: ExportMessage[]) => Promise<void>,
  limits: HourLimits = HOUR_LIMITS,
): Promise<boolean> {
  const hour = hourOf(msg);
  let subs = msg.subs ?? 0;
  let after = msg.after;
  let written = 0;
  let buffer: Entry[] = [];
  const prefix = hourPrefix(msg.project_id, msg.app_id, msg.date, msg.hour);
  const flush = async () => {
    await writeSubRun(env, subRunKey(hour, 0, subs++), await prepare(env, msg.project_id, buffer));
    buffer = [];
    written++;
  };
  for (;;) {
    const page = await env.EXPORTS.list({ prefix, startAfter: after, limit: LIST_PAGE });
    for (const object of page.objects) {
      const body = await env.EXPORTS.get(object.key);
      if (body) {
        for await (const e of entriesIn(body)) {
          buffer.push(e);
          if (buffer.length >= limits.subRunEvents) await flush();
        }
      }
      after = object.key;
      // A continuation starts at an object's beginning: this one is read to its end first.
      if (written >= limits.subRunsPerMessage) {
        if (buffer.length > 0) await flush();
        await queue([{ ...msg, after, subs }]);
        return false;
      }
    }
    if (!page.truncated) break;
  }
  if (subs === 0) {
    await writeRuns(env, hour, await prepare(env, msg.project_id, buffer));
    return true;
  }
  if (buffer.length > 0) await flush();
  await queue([{ type: "daily_merge", ...hour, level: 0, count: subs }]);
  return false;
}

async function writeSubRun(env: Env, key: string, entries: Entry[]): Promise<void> {
  const writer = new ObjectWriter(env.EXPORTS, key);
  for (let k = 0; k < entries.length; k += ROWS_PER_SLICE) {
    const slice = entries.slice(k, k + ROWS_PER_SLICE);
    await writer.write(slice.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }
  await writer.close();
}

/** The runs of an hour that fit in memory: one object per kind, its row count in its metadata. */
async function writeRuns(env: Env, hour: Hour, entries: Entry[]): Promise<void> {
  for (const kind of EVENT_KINDS) {
    const rows = entries.filter((e) => e.kind === kind).map((e) => e.row);
    await env.EXPORTS.put(runKey(hour.job, hour.app_id, kind, hour.hour), csvRows(rows), {
      customMetadata: { rows: String(rows.length) },
    });
  }
}

/**
 * Merges one level of sub-runs, `fanIn` at a time: into the next level, or into the runs when
 * they are few enough. Returns true when the hour's runs are written.
 */
export async function mergeHour(
  env: Env,
  msg: MergeMessage,
  queue: (messages: ExportMessage[]) => Promise<void>,
  limits: HourLimits = HOUR_LIMITS,
): Promise<boolean> {
  const hour = hourOf(msg);
  const inputs = Array.from({ length: msg.count }, (_, n) => subRunKey(hour, msg.level, n));
  // A merge delivered twice may find its inputs gone: the other delivery finished the hour.
  if (!(await env.EXPORTS.head(inputs[0] as string))) {
    if (await env.EXPORTS.head(runRowsKey(runKey(hour.job, hour.app_id, "push_events", hour.hour)))) return true;
    throw new Error(`sub-runs of level ${msg.level} are missing`);
  }
  if (msg.count <= limits.fanIn) {
    await mergeIntoRuns(env, hour, inputs);
    await deletePrefix(env, subRunPrefix(hour));
    return true;
  }
  let next = 0;
  for (let k = 0; k < inputs.length; k += limits.fanIn) {
    const group = inputs.slice(k, k + limits.fanIn);
    const writer = new ObjectWriter(env.EXPORTS, subRunKey(hour, msg.level + 1, next++));
    let lines: string[] = [];
    for await (const e of merged(env, group)) {
      lines.push(JSON.stringify(e));
      if (lines.length === ROWS_PER_SLICE) {
        await writer.write(`${lines.join("\n")}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) await writer.write(`${lines.join("\n")}\n`);
    await writer.close();
  }
  await queue([{ ...msg, level: msg.level + 1, count: next }]);
  return false;
}

async function mergeIntoRuns(env: Env, hour: Hour, inputs: string[]): Promise<void> {
  const writers = new Map(
    EVENT_KINDS.map((kind) => [kind, new ObjectWriter(env.EXPORTS, runKey(hour.job, hour.app_id, kind, hour.hour))]),
  );
  const pending = new Map<EventKind, Cell[][]>(EVENT_KINDS.map((kind) => [kind, []]));
  const flush = async (kind: EventKind) => {
    const rows = pending.get(kind) as Cell[][];
    await writers.get(kind)?.write(csvRows(rows), rows.length);
    pending.set(kind, []);
  };
  try {
    for await (const e of merged(env, inputs)) {
      const rows = pending.get(e.kind) as Cell[][];
      rows.push(e.row);
      if (rows.length === ROWS_PER_SLICE) await flush(e.kind);
    }
    for (const kind of EVENT_KINDS) {
      await flush(kind);
      const writer = writers.get(kind) as ObjectWriter;
      const { rows } = await writer.close();
      await env.EXPORTS.put(runRowsKey(runKey(hour.job, hour.app_id, kind, hour.hour)), String(rows));
    }
  } catch (error) {
    for (const writer of writers.values()) await writer.abort();
    throw error;
  }
}

/** The entries of sorted sub-runs in one sorted stream, each event once. */
async function* merged(env: Env, keys: string[]): AsyncGenerator<Entry> {
  const sources = await Promise.all(keys.map((key) => entriesOf(env, key)));
  const heads = await Promise.all(sources.map((s) => s.next()));
  let last: Entry | undefined;
  for (;;) {
    let min = -1;
    for (let k = 0; k < heads.length; k++) {
      const head = heads[k] as IteratorResult<Entry>;
      if (head.done) continue;
      const best = heads[min];
      if (min < 0 || (best && !best.done && compareStaged(head.value, best.value) < 0)) min = k;
    }
    if (min < 0) return;
    const entry = (heads[min] as IteratorYieldResult<Entry>).value;
    heads[min] = await (sources[min] as AsyncGenerator<Entry>).next();
    if (sameEvent(last, entry)) continue;
    last = entry;
    yield entry;
  }
}

/** A sub-run's entries, streamed a chunk at a time. */
async function* entriesOf(env: Env, key: string): AsyncGenerator<Entry> {
  const object = await env.EXPORTS.get(key);
  if (!object) throw new Error(`sub-run ${key} is missing`);
  for await (const entries of ndjsonBatches<Entry>(object.body)) yield* entries;
}

/** Deletes every object under a prefix, a listing page (at most 1,000 keys, R2's limit) at a time. */
async function deletePrefix(env: Env, prefix: string): Promise<void> {
  for (;;) {
    const page = await env.EXPORTS.list({ prefix, limit: 1000 });
    if (page.objects.length > 0) await env.EXPORTS.delete(page.objects.map((o) => o.key));
    if (!page.truncated) return;
  }
}
