import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TOMBSTONES, TOMBSTONE_WINDOW_MS } from "../../src/identity/array-elements";
import type { AttributeWrite, Source } from "../../src/identity/attributes";
import { reconcile, type StoredAttribute } from "../../src/identity/reconcile";

/** One write as it arrives on its own call: what it does, when it was made, by whom. */
interface Arrival {
  write: AttributeWrite;
  time: string;
  source: Source;
}

const at = (minute: number) => new Date(Date.UTC(2026, 10, 20, 10, minute)).toISOString();
const add = (minute: number, ...items: string[]): Arrival => ({
  write: { name: "tags", kind: "array_ops", add: items, remove: [] },
  time: at(minute),
  source: "api",
});
const remove = (minute: number, ...items: string[]): Arrival => ({
  write: { name: "tags", kind: "array_ops", add: [], remove: items },
  time: at(minute),
  source: "api",
});
const setTo = (minute: number, ...items: string[]): Arrival => ({
  write: { name: "tags", kind: "set", type: "array", value: items },
  time: at(minute),
  source: "api",
});
const wipe = (minute: number): Arrival => ({
  write: { name: "tags", kind: "delete" },
  time: at(minute),
  source: "api",
});

/** Applies arrivals one call each, in the given order, as a profile would; returns what is held. */
function applyAll(arrivals: Arrival[], now?: number): StoredAttribute | undefined {
  let held: StoredAttribute | undefined;
  for (const a of arrivals) held = reconcile(held, a.write, a.time, a.source, false, now) ?? held;
  return held;
}

/** What the view and the projection show: the type and the plain value. */
const shown = (held: StoredAttribute | undefined) =>
  held?.value === null || held === undefined ? null : { type: held.type, value: held.value };

/** Membership, for comparing results that may list the same items in a different order. */
const members = (held: StoredAttribute | undefined) =>
  Array.isArray(held?.value) ? [...(held?.value ?? [])].sort() : held?.value;

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, k) =>
    permutations([...items.slice(0, k), ...items.slice(k + 1)]).map((rest) => [item, ...rest]),
  );
}

describe("array elements: last update wins per item (SPEC §3)", () => {
  it("an $add older than a $remove of the same item does not bring it back, in either arrival order", () => {
    const ops = [setTo(0, "a", "b"), remove(20, "a"), add(10, "a")];
    for (const order of permutations(ops)) {
      expect(members(applyAll(order))).toEqual(["b"]);
    }
  });

  it("a $remove older than an $add of the same item does not take it away", () => {
    for (const order of permutations([add(20, "a"), remove(10, "a")])) {
      expect(members(applyAll(order))).toEqual(["a"]);
    }
  });

  it("a whole-array set replaces elements older than it; later element ops still apply", () => {
    const ops = [add(5, "old"), setTo(10, "x", "y"), add(15, "new"), remove(12, "x"), remove(8, "y")];
    for (const order of permutations(ops)) {
      expect(members(applyAll(order))).toEqual(["new", "y"]);
    }
  });

  it("a delete clears elements older than it; a later $add starts the array again", () => {
    const ops = [setTo(0, "a"), wipe(10), add(5, "b"), add(20, "c")];
    for (const order of permutations(ops)) {
      expect(shown(applyAll(order))).toEqual({ type: "array", value: ["c"] });
    }
  });

  it("a late $remove older than the value does nothing, and a $remove alone leaves no visible value", () => {
    expect(shown(applyAll([setTo(10, "a"), remove(5, "a")]))).toEqual({ type: "array", value: ["a"] });
    expect(shown(applyAll([remove(5, "a")]))).toBeNull();
    // ...but remembers the removal: an older $add of the item arriving later stays out.
    expect(shown(applyAll([remove(5, "a"), add(3, "a")]))).toBeNull();
  });

  it("an $add and a $remove of one item at the same instant on two calls: the $remove wins in both orders", () => {
    for (const order of permutations([add(5, "a"), remove(5, "a"), add(1, "b")])) {
      expect(members(applyAll(order))).toEqual(["b"]);
    }
  });

  it("within one call, a later write at the same instant follows the call's order", () => {
    const first = reconcile(undefined, add(5, "a").write, at(5), "api") ?? undefined;
    expect(reconcile(first, setTo(5, "x").write, at(5), "api", true)?.value).toEqual(["x"]);
    const set = reconcile(undefined, setTo(5, "x").write, at(5), "api") ?? undefined;
    expect(reconcile(set, add(5, "a").write, at(5), "api", true)?.value).toEqual(["x", "a"]);
  });

  it("every arrival order of a few writes ends with the same value (fast-check)", () => {
    const items = fc.subarray(["a", "b", "c", "d"]);
    const minute = fc.integer({ min: 0, max: 6 });
    const source = fc.constantFrom<Source>("api", "sdk", "sdk_auto");
    const arrival: fc.Arbitrary<Arrival> = fc.oneof(
      fc.record({ m: minute, s: source, add: items, remove: items }).map(({ m, s, add, remove }) => ({
        write: { name: "tags", kind: "array_ops" as const, add, remove },
        time: at(m),
        source: s,
      })),
      fc.record({ m: minute, s: source, v: items }).map(({ m, s, v }) => ({
        write: { name: "tags", kind: "set" as const, type: "array" as const, value: v },
        time: at(m),
        source: s,
      })),
      fc.record({ m: minute, s: source, v: fc.constantFrom("x", "y") }).map(({ m, s, v }) => ({
        write: { name: "tags", kind: "set" as const, type: "string" as const, value: v },
        time: at(m),
        source: s,
      })),
      fc.record({ m: minute, s: source }).map(({ m, s }) => ({
        write: { name: "tags", kind: "delete" as const },
        time: at(m),
        source: s,
      })),
    );
    fc.assert(
      fc.property(fc.array(arrival, { minLength: 1, maxLength: 5 }), fc.nat(), (arrivals, seed) => {
        const orders = permutations(arrivals);
        const other = orders[seed % orders.length] ?? arrivals;
        expect(shown(applyAll(other))).toEqual(shown(applyAll(arrivals)));
      }),
      { numRuns: 500 },
    );
  });
});

describe("array elements: what an attribute remembers stays bounded", () => {
  const long = (k: number) => `${k}`.padStart(300, "x");

  it("keeps at most MAX_TOMBSTONES removals, and a forgotten item's older $add stays out", () => {
    const removals = Array.from({ length: 200 }, (_, k) => ({ ...remove(0, long(k)), time: at(k) }));
    const held = applyAll([setTo(0, "keep"), ...removals]);
    expect(held?.elements?.items.filter((e) => e[2] === 0)).toHaveLength(MAX_TOMBSTONES);
    expect(held?.value).toEqual(["keep"]);
    // long(0) was removed at minute 0 and forgotten since; an $add made before minute 149 cannot bring it back.
    expect(reconcile(held, add(100, long(0)).write, at(100), "api")).toBeNull();
    // A newer $add still applies.
    expect(reconcile(held, add(300, long(0)).write, at(300), "api")?.value).toEqual(["keep", long(0)]);
  });

  it("stays far under the 2 MB a stored value may hold, with full arrays of the longest strings", () => {
    const present = Array.from({ length: 25 }, (_, k) => long(k));
    let held = applyAll([setTo(0, ...present)]);
    // Churn: each call swaps the oldest item for a new one, so the array stays full.
    for (let k = 0; k < 300; k++) {
      const out = present.shift() ?? "";
      present.push(long(1000 + k));
      const write: AttributeWrite = { name: "tags", kind: "array_ops", add: [long(1000 + k)], remove: [out] };
      held = reconcile(held, write, at(k + 1), "api") ?? held;
    }
    expect(held?.value).toEqual(present);
    const bytes = new TextEncoder().encode(JSON.stringify(held)).byteLength;
    expect(bytes).toBeLessThan(64 * 1024);
  });

  it("forgets removals older than the window: no op that old is accepted any more", () => {
    const held = applyAll([setTo(0, "a", "b"), remove(1, "a")]);
    const later = Date.parse(at(1)) + TOMBSTONE_WINDOW_MS + 60_000;
    const next = reconcile(held, add(2, "c").write, new Date(later).toISOString(), "api", false, later);
    expect(next?.elements?.items.map((e) => e[0])).toEqual(["c"]);
    expect(next?.value).toEqual(["b", "c"]);
  });

  it("a whole-array set drops the removals older than it", () => {
    const held = applyAll([remove(1, "a"), remove(2, "b"), setTo(5, "c")]);
    expect(held?.elements).toBeUndefined();
    expect(held?.value).toEqual(["c"]);
  });
});
