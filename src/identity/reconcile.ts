import type { AttributeType, AttributeValue, AttributeWrite, Source } from "./attributes";

/** An attribute as stored: `value: null` is a tombstone that remembers when it was deleted. */
export interface StoredAttribute {
  name: string;
  type: AttributeType | null;
  value: AttributeValue | null;
  updatedAt: string;
  source: Source;
}

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
 * the unit tests call it the same way.
 */
export function reconcile(
  current: StoredAttribute | undefined,
  write: AttributeWrite,
  time: string,
  source: Source,
  laterInSameRequest = false,
): StoredAttribute | null {
  if (write.kind === "array_ops") {
    // Set operations commute, so they apply whatever their order, unless a newer
    // non-array value (or a newer delete) replaced the array since.
    if (current && current.type !== "array" && Date.parse(current.updatedAt) > Date.parse(time)) return null;
    const base = current?.type === "array" && Array.isArray(current.value) ? current.value : [];
    const removed = new Set(write.remove);
    const next = [...base.filter((v) => !removed.has(v)), ...write.add.filter((v) => !base.includes(v))];
    const unique = [...new Set(next)];
    const updatedAt = current && Date.parse(current.updatedAt) > Date.parse(time) ? current.updatedAt : time;
    return { name: write.name, type: "array", value: unique, updatedAt, source };
  }
  const candidate: StoredAttribute =
    write.kind === "delete"
      ? { name: write.name, type: null, value: null, updatedAt: time, source }
      : { name: write.name, type: write.type, value: write.value, updatedAt: time, source };
  // A delete of an unknown attribute still leaves its tombstone: an older write may be on its way.
  if (!current) return candidate;
  return compare(candidate, current, laterInSameRequest) > 0 ? candidate : null;
}
