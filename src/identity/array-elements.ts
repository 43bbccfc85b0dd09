import { type AttributeType, type AttributeValue, LIMITS, type Source } from "./attributes";

/** The last whole write of an attribute: a set of any type, or a delete (`value: null`). */
export interface BaseWrite {
  type: AttributeType | null;
  value: AttributeValue | null;
  updatedAt: string;
  source: Source;
}

/** One item's last `$add` (present 1) or `$remove` (present 0), with its time and source. */
export type ElementEntry = [item: string, time: string, present: 0 | 1, source: Source];

/**
 * What an array attribute remembers beyond its value (SPEC §3, time-ordered elements): the
 * whole write the element operations apply to, and the last operation on each item made at or
 * after it. An item without an entry is in the array exactly when it is in `base`.
 */
export interface ElementClock {
  base: BaseWrite;
  items: ElementEntry[];
  /**
   * The newest removal forgotten to keep the entries bounded: an `$add` of an item without an
   * entry made at or before this stays out, as the removal it may have followed would have kept it.
   */
  forgotten?: string;
}

/** The value the view and the projection show, and when and by whom it last changed. */
export interface Materialized {
  type: AttributeType | null;
  value: AttributeValue | null;
  updatedAt: string;
  source: Source;
  elements?: ElementClock;
}

/** Removals are remembered this long: an op more than 30 days old is refused (SPEC §4), plus a day of margin. */
export const TOMBSTONE_WINDOW_MS = LIMITS.eventMaxAgeMs + 24 * 3600 * 1000;
/** At most this many removals kept per attribute, newest first, whatever their age. */
export const MAX_TOMBSTONES = 50;

const NOTHING = "1970-01-01T00:00:00.000Z";

const ms = (time: string) => Date.parse(time);

/** The state of an attribute with no record: nothing, since forever. */
export function emptyBase(source: Source): BaseWrite {
  return { type: null, value: null, updatedAt: NOTHING, source };
}

type Entries = Map<string, ElementEntry>;

/**
 * Whether `next` replaces `held` as the last operation on one item: the newer wins; at the same
 * instant, the later of one call wins, and across calls a `$remove` beats an `$add` (then the
 * lower source), so that every arrival order ends the same.
 */
function entryWins(next: ElementEntry, held: ElementEntry | undefined, laterInSameRequest: boolean): boolean {
  if (!held) return true;
  const byTime = ms(next[1]) - ms(held[1]);
  if (byTime !== 0) return byTime > 0;
  if (laterInSameRequest) return next[2] !== held[2] || next[3] !== held[3];
  if (next[2] !== held[2]) return next[2] < held[2];
  return next[3] < held[3];
}

/**
 * Applies `$add`/`$remove` made at `time` to an attribute whose last whole write is `base`.
 * Returns null when nothing changes: every item already holds a newer operation, or the whole
 * write is newer than the operations (it replaced the array they were made on).
 */
export function applyElementOps(
  base: BaseWrite,
  clock: ElementClock | undefined,
  ops: { add: string[]; remove: string[] },
  time: string,
  source: Source,
  laterInSameRequest: boolean,
  now: number | undefined,
): Materialized | null {
  if (ms(time) < ms(base.updatedAt)) return null;
  const entries: Entries = new Map((clock?.items ?? []).map((e) => [e[0], e]));
  const removed = new Set(ops.remove);
  // Within one write, a `$remove` of an item beats an `$add` of it.
  const next: ElementEntry[] = [
    ...ops.add.filter((v) => !removed.has(v)).map((v): ElementEntry => [v, time, 1, source]),
    ...[...removed].map((v): ElementEntry => [v, time, 0, source]),
  ];
  let changed = false;
  for (const entry of next) {
    const held = entries.get(entry[0]);
    // An `$add` no older than a forgotten removal stays out: that removal may have been of this item.
    if (!held && entry[2] === 1 && clock?.forgotten && ms(time) <= ms(clock.forgotten)) continue;
    if (!entryWins(entry, held, laterInSameRequest)) continue;
    entries.set(entry[0], entry);
    changed = true;
  }
  if (!changed) return null;
  return materialize(compact({ base, items: [...entries.values()], forgotten: clock?.forgotten }, now));
}

/**
 * A whole write that won against the base: it replaces the elements older than it; those made
 * at its instant stay, unless they came earlier in the same call.
 */
export function applyWholeWrite(
  write: BaseWrite,
  clock: ElementClock | undefined,
  laterInSameRequest: boolean,
  now: number | undefined,
): Materialized {
  const t = ms(write.updatedAt);
  const kept = (clock?.items ?? []).filter((e) => ms(e[1]) > t || (ms(e[1]) === t && !laterInSameRequest));
  const forgotten = clock?.forgotten && ms(clock.forgotten) > t ? clock.forgotten : undefined;
  return materialize(compact({ base: { ...write }, items: kept, forgotten }, now));
}

/**
 * Bounds what a clock remembers: removals older than the window are dropped (no op that old is
 * accepted, so none can be older than them), then all but the newest `MAX_TOMBSTONES`. A removal
 * dropped takes its item out of the base too, so it stays out.
 */
export function compact(clock: ElementClock, now: number | undefined): ElementClock {
  const removals = clock.items.filter((e) => e[2] === 0).sort((a, b) => ms(b[1]) - ms(a[1]));
  const cutoff = now === undefined ? Number.NEGATIVE_INFINITY : now - TOMBSTONE_WINDOW_MS;
  const dropped = removals.filter((e, k) => k >= MAX_TOMBSTONES || ms(e[1]) < cutoff);
  if (dropped.length === 0) return clock;
  const gone = new Set(dropped.map((e) => e[0]));
  const base = Array.isArray(clock.base.value)
    ? { ...clock.base, value: clock.base.value.filter((v) => !gone.has(v)) }
    : clock.base;
  const newestDropped = dropped.reduce((max, e) => (ms(e[1]) > ms(max) ? e[1] : max), dropped[0]?.[1] ?? NOTHING);
  const forgotten = clock.forgotten && ms(clock.forgotten) > ms(newestDropped) ? clock.forgotten : newestDropped;
  return { base, items: clock.items.filter((e) => !gone.has(e[0])), forgotten };
}

/**
 * The value shown: the base's items in its order, less those removed since, then the items
 * added since in time order. A base that is not an array shows as is until an item is added.
 */
export function materialize(clock: ElementClock): Materialized {
  const { base, items } = clock;
  // The newest operation dates the value; at one instant the lower source, so every order agrees.
  let updatedAt = base.updatedAt;
  let source = base.source;
  for (const [, time, , s] of items) {
    const byTime = ms(time) - ms(updatedAt);
    if (byTime > 0 || (byTime === 0 && s < source)) {
      updatedAt = time;
      source = s;
    }
  }
  const elements = items.length > 0 || clock.forgotten ? clock : undefined;
  const entries: Entries = new Map(items.map((e) => [e[0], e]));
  const baseItems = base.type === "array" && Array.isArray(base.value) ? base.value : null;
  const added = items
    .filter((e) => e[2] === 1 && !baseItems?.includes(e[0]))
    .sort((a, b) => ms(a[1]) - ms(b[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((e) => e[0]);
  if (!baseItems && added.length === 0) {
    return { type: base.type, value: base.value, updatedAt, source, ...(elements && { elements }) };
  }
  const kept = (baseItems ?? []).filter((v) => entries.get(v)?.[2] !== 0);
  return { type: "array", value: [...kept, ...added], updatedAt, source, ...(elements && { elements }) };
}
