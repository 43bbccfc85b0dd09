import {
  applyElementOps,
  applyWholeWrite,
  type BaseWrite,
  type ElementClock,
  emptyBase,
  type Materialized,
} from "./array-elements";
import type { AttributeType, AttributeValue, AttributeWrite, Source } from "./attributes";

/**
 * An attribute as stored: `value: null` is a tombstone that remembers when it was deleted.
 * `elements` is there once `$add`/`$remove` ran on it: the value shown is then derived from it.
 */
export interface StoredAttribute {
  name: string;
  type: AttributeType | null;
  value: AttributeValue | null;
  updatedAt: string;
  source: Source;
  elements?: ElementClock;
}

/** The last whole write of a stored attribute: what a new whole write competes with. */
function baseOf(held: StoredAttribute): BaseWrite {
  return held.elements?.base ?? { type: held.type, value: held.value, updatedAt: held.updatedAt, source: held.source };
}

const named = (name: string, m: Materialized): StoredAttribute => ({ name, ...m });

/**
 * Source priority for the native attributes that do not follow "last update wins" (SPEC §3).
 * Within one rank, last update wins. `sdk` sits between the other two for `$timezone`.
 */
const PRIORITY: Record<string, Record<Source, number>> = {
  $language: { api: 3, sdk: 2, sdk_auto: 1 },
  $region: { api: 3, sdk: 2, sdk_auto: 1 },
  $timezone: { sdk_auto: 3, sdk: 2, api: 1 },
};

/**
 * Orders two candidate values of one attribute; > 0 when `a` should be the one kept.
 * `laterInSameRequest`: `a` follows `b` in one request, so at the same instant it wins.
 */
function compare(a: StoredAttribute, b: StoredAttribute, laterInSameRequest: boolean): number {
  const ranks = PRIORITY[a.name];
  // A tombstone gives up its source's priority: after an API reset, the device's value may come back.
  if (ranks && a.value !== null && b.value !== null) {
    const byRank = ranks[a.source] - ranks[b.source];
    if (byRank !== 0) return byRank;
  }
  const byTime = Date.parse(a.updatedAt) - Date.parse(b.updatedAt);
  if (byTime !== 0) return byTime;
  if (laterInSameRequest) return 1;
  // Same instant: a fixed order on (source, value) so that every arrival order ends the same.
  const ka = `${a.source}\u0000${JSON.stringify(a.value)}`;
  const kb = `${b.source}\u0000${JSON.stringify(b.value)}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * The value an attribute holds after `write` (made at `time` by `source`) meets `current`.
 * Returns null when the write loses and nothing changes. Pure: the Durable Objects and
 * the unit tests call it the same way. `now` bounds the removals an array remembers.
 */
export function reconcile(
  current: StoredAttribute | undefined,
  write: AttributeWrite,
  time: string,
  source: Source,
  laterInSameRequest = false,
  now?: number,
): StoredAttribute | null {
  if (write.kind === "array_ops") {
    // Each item follows last update wins on its own; a newer whole write replaced them all.
    const base = current ? baseOf(current) : emptyBase(source);
    const next = applyElementOps(base, current?.elements, write, time, source, laterInSameRequest, now);
    return next && named(write.name, next);
  }
  const candidate: StoredAttribute =
    write.kind === "delete"
      ? { name: write.name, type: null, value: null, updatedAt: time, source }
      : { name: write.name, type: write.type, value: write.value, updatedAt: time, source };
  // A delete of an unknown attribute still leaves its tombstone: an older write may be on its way.
  if (!current) return candidate;
  const base = { ...baseOf(current), name: write.name };
  if (compare(candidate, base, laterInSameRequest) <= 0) return null;
  if (!current.elements) return candidate;
  const { name: _, ...whole } = candidate;
  return named(write.name, applyWholeWrite(whole, current.elements, laterInSameRequest, now));
}
