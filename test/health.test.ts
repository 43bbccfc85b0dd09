import { describe, expect, it } from "vitest";
import { call, errorOf } from "./support/harness";

describe("health and documents", () => {
  it("answers /health with a request ID", async () => {
    const res = await call("GET", "/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("serves the OpenAPI document generated from the routes", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/admin/projects",
        "/v1/admin/projects/{project_id}/apps",
        "/v1/sdk/batch",
        "/v1/profiles",
      ]),
    );
  });

  it("serves a human docs page listing the endpoints", async () => {
    const res = await call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("/v1/sdk/batch");
    expect(html).toContain("/v1/admin/projects");
  });

  it("answers an unknown route with a 404 envelope", async () => {
    const res = await call("GET", "/nope");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });
});
