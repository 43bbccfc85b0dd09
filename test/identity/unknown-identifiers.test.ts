import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createProject, restHeaders } from "../support/harness";
import { customIdStub, installationStub, profileBy } from "../support/identity";

const uuid = () => crypto.randomUUID();

/** The tables an object holds and whether it has an alarm: an object never written holds neither. */
function footprint(stub: DurableObjectStub<Rpc.DurableObjectBranded | undefined>) {
  return runInDurableObject(stub, async (_o, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
      )
      .toArray()
      .map((r) => r.name),
    alarm: await state.storage.getAlarm(),
  }));
}

describe("reads and writes for identifiers never seen", () => {
  it("answers 404 for an unknown custom ID and leaves its object empty", async () => {
    const p = await createProject();
    const { status } = await profileBy(p, { custom_id: "no-such-user" });
    expect(status).toBe(404);
    expect(await footprint(customIdStub(p.projectId, "no-such-user"))).toEqual({ tables: [], alarm: null });
  });

  it("answers 404 for an unknown installation ID and leaves its object empty", async () => {
    const p = await createProject();
    const i = uuid();
    const { status } = await profileBy(p, { installation_id: i });
    expect(status).toBe(404);
    expect(await footprint(installationStub(p.projectId, i))).toEqual({ tables: [], alarm: null });
  });

  it("reports a Profile API write to an installation never seen per operation, and creates nothing", async () => {
    const p = await createProject();
    const i = uuid();
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        { identifiers: { installation_id: i }, attributes: { tier: "gold" } },
        { identifiers: { custom_id: "known-now" }, attributes: { tier: "gold" } },
      ],
    });
    expect(res.status).toBe(202);
    const body = await res.json<{ code: string; errors: { bulk_index: number; category: string }[] }>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors).toMatchObject([{ bulk_index: 0, category: "identifiers" }]);
    expect(await footprint(installationStub(p.projectId, i))).toEqual({ tables: [], alarm: null });
    expect((await profileBy(p, { custom_id: "known-now" })).body?.attributes.tier?.value).toBe("gold");
  });
});
