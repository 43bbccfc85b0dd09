import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, customIdStub, identify, profileBy, querySql } from "../support/identity";

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

describe("objects written before array items had times and members a last-seen time", () => {
  it("gain the columns when they wake, and keep working", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    await batch(p, device, [identify("old")]);
    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(10), attributes: { tags: ["a", "b"] } }]);
    const stub = customIdStub(p.projectId, "old");
    // Put the object back to the layout it had before.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("DROP INDEX members_by_seen");
      state.storage.sql.exec("ALTER TABLE members DROP COLUMN seen_at");
      state.storage.sql.exec("ALTER TABLE attributes DROP COLUMN elements");
    });
    await abortAllDurableObjects();

    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(2), attributes: { tags: { $remove: ["a"] } } }]);
    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(5), attributes: { tags: { $add: ["a", "c"] } } }]);
    const { body } = await profileBy(p, { custom_id: "old" });
    expect(body?.attributes.tags?.value).toEqual(["b", "c"]);
    expect(body?.installations.map((x) => x.installation_id)).toEqual([device]);
    const [member] = await querySql(customIdStub(p.projectId, "old"), "SELECT seen_at, attached_at FROM members");
    expect(member?.seen_at).toBe(member?.attached_at);
  });
});
