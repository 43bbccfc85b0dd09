import { describe, expect, it } from "vitest";
import { type AttributeRow, exportRows, type ProfileRow } from "../../src/exports/profiles-export";

/** An array whose element reads are counted: what building the rows costs, not how long it takes. */
function counted<T>(items: T[], tally: { reads: number }): T[] {
  return new Proxy(items, {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) tally.reads++;
      return Reflect.get(target, key, receiver);
    },
  });
}

function widePage(profiles: number, attributes: number) {
  const page: ProfileRow[] = Array.from({ length: profiles }, (_, k) => ({
    profile_id: `p${String(k).padStart(5, "0")}`,
    custom_id: `c${k}`,
    last_activity_at: "2026-01-01T00:00:00.000Z",
  }));
  const names = Array.from({ length: attributes }, (_, k) => `a${k}`);
  const attrs: AttributeRow[] = page.flatMap((p, k) =>
    names.map((name, n) => ({
      profile_id: p.profile_id,
      name,
      type: "number",
      value_text: null,
      value_num: k * 1000 + n,
      value_json: null,
    })),
  );
  const installs = page.flatMap((p, k) => [
    { profile_id: p.profile_id, installation_id: `i${k}-a` },
    { profile_id: p.profile_id, installation_id: `i${k}-b` },
  ]);
  return { page, names, attrs, installs };
}

describe("exportRows", () => {
  it("reads each attribute and installation row a bounded number of times, however wide the page", () => {
    const { page, names, attrs, installs } = widePage(200, 50);
    const tally = { reads: 0 };
    const rows = exportRows(
      ["profile_id", "installation_ids", ...names],
      page,
      counted(installs, tally),
      counted(attrs, tally),
    );
    expect(rows).toHaveLength(200);
    // Linear: every input row read a few times at most. A search per cell reads ~10^6 here.
    expect(tally.reads).toBeLessThanOrEqual(3 * (attrs.length + installs.length));
  });

  it("puts each value in its profile's row and its field's column", () => {
    const { page, names, attrs, installs } = widePage(3, 4);
    // Attribute rows in any order (installations come sorted by ID, as the query reads them).
    const rows = exportRows(["custom_id", "installation_ids", "a3", "missing", "a0"], page, installs, attrs.reverse());
    expect(rows).toEqual([
      ["c0", JSON.stringify(["i0-a", "i0-b"]), 3, null, 0],
      ["c1", JSON.stringify(["i1-a", "i1-b"]), 1003, null, 1000],
      ["c2", JSON.stringify(["i2-a", "i2-b"]), 2003, null, 2000],
    ]);
    expect(names).toHaveLength(4);
  });
});
