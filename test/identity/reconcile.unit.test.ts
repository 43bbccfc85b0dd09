import { describe, expect, it } from "vitest";
import type { AttributeWrite, Source } from "../../src/identity/attributes";
import { reconcile, type StoredAttribute } from "../../src/identity/reconcile";

const T1 = "2026-11-20T10:00:00.000Z";
const T2 = "2026-11-20T11:00:00.000Z";
const SOURCES: Source[] = ["api", "sdk", "sdk_auto"];

const set = (name: string, value: string): AttributeWrite => ({ name, kind: "set", type: "string", value });
const stored = (name: string, value: string | null, updatedAt: string, source: Source): StoredAttribute => ({
  name,
  type: value === null ? null : "string",
  value,
  updatedAt,
  source,
});

/** SPEC §3: who may overwrite whom, highest first. */
const RANKS: Record<string, Source[]> = {
  $language: ["api", "sdk", "sdk_auto"],
  $region: ["api", "sdk", "sdk_auto"],
  $timezone: ["sdk_auto", "sdk", "api"],
};
const rank = (name: string, s: Source) => -(RANKS[name]?.indexOf(s) ?? 0);

describe("reconcile: priority attributes, every source pair in both time orders", () => {
  for (const name of Object.keys(RANKS)) {
    for (const held of SOURCES) {
      for (const incoming of SOURCES) {
        for (const [heldAt, incomingAt] of [
          [T1, T2],
          [T2, T1],
        ] as const) {
          const newer = incomingAt > heldAt;
          const wins = rank(name, incoming) > rank(name, held) || (rank(name, incoming) === rank(name, held) && newer);
          it(`${name}: ${incoming}@${newer ? "newer" : "older"} over ${held} → ${wins ? "replaces" : "kept"}`, () => {
            const current = stored(name, "held", heldAt, held);
            const result = reconcile(current, set(name, "incoming"), incomingAt, incoming);
            if (wins) expect(result).toEqual(stored(name, "incoming", incomingAt, incoming));
            else expect(result).toBeNull();
          });
        }
      }
    }
  }

  it("lets a lower source write again once the higher one deleted the value", () => {
    const reset = stored("$language", null, T1, "api");
    expect(reconcile(reset, set("$language", "fr"), T2, "sdk_auto")).toMatchObject({ value: "fr", source: "sdk_auto" });
  });
});

describe("reconcile: last update wins for everything else", () => {
  for (const name of ["plan", "$email_address", "$phone_number", "$email_marketing", "$sms_marketing"]) {
    it(`${name}: a newer write replaces, an older one arriving later does not`, () => {
      const current = stored(name, "held", T2, "sdk");
      expect(reconcile(current, set(name, "older"), T1, "api")).toBeNull();
      expect(reconcile(stored(name, "held", T1, "api"), set(name, "newer"), T2, "sdk")).toMatchObject({
        value: "newer",
        source: "sdk",
      });
    });
  }

  it("keeps a delete against an older write that arrives after it", () => {
    const deleted = reconcile(stored("plan", "pro", T1, "api"), { name: "plan", kind: "delete" }, T2, "api");
    expect(deleted).toMatchObject({ value: null, updatedAt: T2 });
    expect(reconcile(deleted ?? undefined, set("plan", "free"), T1, "sdk")).toBeNull();
  });

  it("breaks ties the same way whatever the arrival order", () => {
    const a = set("plan", "alpha");
    const b = set("plan", "beta");
    const ab = reconcile(reconcile(undefined, a, T1, "api") ?? undefined, b, T1, "sdk");
    const ba = reconcile(reconcile(undefined, b, T1, "sdk") ?? undefined, a, T1, "api");
    const final = (first: StoredAttribute | null, fallback: StoredAttribute | null) => (first ?? fallback)?.value;
    expect(final(ab, reconcile(undefined, a, T1, "api"))).toBe(final(ba, reconcile(undefined, b, T1, "sdk")));
  });

  it("lets the later of two writes in one request win at the same instant", () => {
    const first = reconcile(undefined, set("plan", "red"), T1, "api");
    expect(reconcile(first ?? undefined, set("plan", "blue"), T1, "api", true)).toMatchObject({ value: "blue" });
  });
});

describe("reconcile: array operations", () => {
  const arr = (value: string[], at = T1): StoredAttribute => ({
    name: "tags",
    type: "array",
    value,
    updatedAt: at,
    source: "api",
  });
  const ops = (add: string[], remove: string[] = []): AttributeWrite => ({
    name: "tags",
    kind: "array_ops",
    add,
    remove,
  });

  it("adds without duplicates and removes", () => {
    expect(reconcile(arr(["a", "b"]), ops(["b", "c"], ["a"]), T2, "api")?.value).toEqual(["b", "c"]);
  });

  it("creates the array when the attribute does not exist", () => {
    expect(reconcile(undefined, ops(["x"]), T1, "sdk")).toMatchObject({ type: "array", value: ["x"] });
  });

  it("does not apply operations older than the array they would change: the whole set replaced them", () => {
    expect(reconcile(arr(["a"], T2), ops(["b"]), T1, "api")).toBeNull();
  });

  it("does not apply to a newer non-array value", () => {
    const scalar: StoredAttribute = { name: "tags", type: "string", value: "x", updatedAt: T2, source: "api" };
    expect(reconcile(scalar, ops(["b"]), T1, "api")).toBeNull();
  });

  it("reports growth past 25 items instead of dropping any (the store refuses the op)", () => {
    const full = arr(Array.from({ length: 25 }, (_, k) => `v${k}`));
    expect(reconcile(full, ops(["one-more"]), T2, "api")?.value).toHaveLength(26);
  });
});
