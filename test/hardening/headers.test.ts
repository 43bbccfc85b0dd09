import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";

describe("request headers mean one thing", () => {
  it("X-Project-Id and X-Batch-Project naming two projects is a 400 and writes nothing", async () => {
    const a = await createProject();
    const b = await createProject();
    const res = await call("POST", "/v1/profiles/update", {
      headers: { ...restHeaders(a), "X-Batch-Project": b.projectId },
      body: [{ identifiers: { custom_id: "hdr-1" }, attributes: { tier: "gold" } }],
    });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toMatch(/X-Batch-Project/);
    expect((await profileBy(a, { custom_id: "hdr-1" })).status).toBe(404);
  });

  it("the same project in both headers is accepted", async () => {
    const a = await createProject();
    const res = await call("POST", "/v1/profiles/update", {
      headers: { ...restHeaders(a), "X-Batch-Project": a.projectId },
      body: [{ identifiers: { custom_id: "hdr-2" }, attributes: { tier: "gold" } }],
    });
    expect(res.status).toBe(202);
  });

  it("a GET on a Batch path names the path the caller used", async () => {
    const a = await createProject();
    const res = await call("GET", "/2.3/profiles/update", { headers: restHeaders(a) });
    expect(res.status).toBe(404);
    const error = await errorOf(res);
    expect(error.message).toContain("/2.3/profiles/update");
    expect(error.message).not.toContain("/v1/");
  });

  it("a header value over 8 KiB is refused before any work", async () => {
    const a = await createProject();
    const res = await call("GET", "/v1/audiences", {
      headers: { ...restHeaders(a), "X-Padding": "x".repeat(100_000) },
    });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(["headers.x-padding"]);
  });
});
