import { describe, expect, it } from "vitest";
import { INLINE_DOC_MAX, INLINE_ENTRY_MAX } from "../../src/identity/attribute-table";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { customIdStub, profileBy, querySql } from "../support/identity";

/*
 * A profile's attributes live in its profile row, as one document, within the 2 MB a value may
 * hold: an attribute too large for it, and those past the document's cap, get rows of their own.
 */

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

/** An array of `items` strings of `chars` characters, distinct per attribute. */
const items = (k: number, n: number, chars: number, ch = "x") =>
  Array.from({ length: n }, (_, j) => `${k}-${j}-`.padEnd(chars, ch));

describe("a profile's attributes document", () => {
  it("keeps the largest attributes in rows of their own, under the cap, and moves one back once it is small", async () => {
    const p = await createProject();
    const customId = `user-${crypto.randomUUID()}`;
    const ids = { custom_id: customId };
    // 250 custom attributes of about 4 KB each: over the document's cap all together.
    for (let round = 0; round < 5; round++) {
      const attributes = Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => {
          const k = round * 50 + i;
          return [`list_${k}`, items(k, 13, 290)];
        }),
      );
      const res = await update(p, [{ identifiers: ids, time: ago(10), attributes }]);
      expect(res.status).toBe(202);
    }
    // And one far larger than an entry may be (two bytes a character), replacing one of them.
    const large = items(0, 25, 300, "é");
    expect((await update(p, [{ identifiers: ids, time: ago(9), attributes: { list_0: large } }])).status).toBe(202);

    const stub = customIdStub(p.projectId, customId);
    const [row] = await querySql(stub, "SELECT length(CAST(attributes AS BLOB)) AS bytes FROM profiles");
    expect(Number(row?.bytes)).toBeLessThanOrEqual(INLINE_DOC_MAX);
    expect(Number(row?.bytes)).toBeGreaterThan(INLINE_DOC_MAX / 2);
    const own = (await querySql(stub, "SELECT name FROM attributes")).map((r) => String(r.name));
    expect(own).toContain("list_0");
    expect(own.length).toBeGreaterThan(1);
    expect(own.length).toBeLessThan(250);

    const { body } = await profileBy(p, ids);
    expect(Object.keys(body?.attributes ?? {}).filter((n) => n.startsWith("list_"))).toHaveLength(250);
    expect(body?.attributes.list_0?.value).toEqual(large);
    expect(body?.attributes.list_249?.value).toEqual(items(249, 13, 290));

    // An older write loses to the attribute in its own row; a newer small one moves it into the document.
    await update(p, [{ identifiers: ids, time: ago(30), attributes: { list_0: "older" } }]);
    expect((await profileBy(p, ids)).body?.attributes.list_0?.value).toEqual(large);
    await update(p, [{ identifiers: ids, time: ago(1), attributes: { list_0: "small" } }]);
    expect((await profileBy(p, ids)).body?.attributes.list_0?.value).toBe("small");
    const after = (await querySql(stub, "SELECT name FROM attributes")).map((r) => String(r.name));
    expect(after).not.toContain("list_0");
    const [doc] = await querySql(stub, "SELECT attributes->'$.list_0' AS entry FROM profiles");
    expect(JSON.parse(String(doc?.entry))).toEqual(["string", "small", expect.any(String), "api"]);
    expect(INLINE_ENTRY_MAX).toBeLessThan(INLINE_DOC_MAX);
    // Each update projects this profile's 3,250 array items to D1 after it answers, as the
    // projection consumer did once for all of them: several seconds each locally, on the D1 the
    // next requests use (docs/decisions.md, "A synchronous update projects its own custom IDs").
  }, 120_000);
});
