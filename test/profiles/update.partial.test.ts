import { describe, expect, it } from "vitest";
import { breakStorage } from "../support/broken";
import { call, createProject, restHeaders } from "../support/harness";
import { customIdStub, profileBy } from "../support/identity";

describe("POST /v1/profiles/update when one identifier fails", () => {
  it("applies the other identifiers and reports the failed one's operations as internal errors", async () => {
    const p = await createProject();
    // Both custom IDs exist; then one object's storage breaks.
    const seed = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        { identifiers: { custom_id: "healthy" }, attributes: { plan: "free" } },
        { identifiers: { custom_id: "broken" }, attributes: { plan: "free" } },
      ],
    });
    expect(seed.status).toBe(202);
    const broken = await breakStorage(customIdStub(p.projectId, "broken"));

    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        { identifiers: { custom_id: "broken" }, attributes: { plan: "pro" } },
        { identifiers: { custom_id: "healthy" }, attributes: { plan: "pro" }, events: [{ name: "upgraded" }] },
        { identifiers: { custom_id: "broken" }, events: [{ name: "upgraded" }] },
      ],
    });
    expect(res.status).toBe(202);
    const body = await res.json<{ code: string; errors: { bulk_index: number; category: string }[] }>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors.map((e) => [e.bulk_index, e.category])).toEqual([
      [0, "internal"],
      [2, "internal"],
    ]);
    const healthy = (await profileBy(p, { custom_id: "healthy" })).body;
    expect(healthy?.attributes.plan?.value).toBe("pro");
    expect(healthy?.events.map((e) => e.name)).toEqual(["upgraded"]);

    // The client retries exactly the failed operations once the object is healthy again.
    await broken.repair();
    const retry = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        { identifiers: { custom_id: "broken" }, attributes: { plan: "pro" } },
        { identifiers: { custom_id: "broken" }, events: [{ name: "upgraded" }] },
      ],
    });
    expect(await retry.json()).toEqual({ code: "SUCCESS" });
    const repaired = (await profileBy(p, { custom_id: "broken" })).body;
    expect(repaired?.attributes.plan?.value).toBe("pro");
    expect(repaired?.events.map((e) => e.name)).toEqual(["upgraded"]);
    expect((await profileBy(p, { custom_id: "healthy" })).body?.events).toHaveLength(1);
  });
});
