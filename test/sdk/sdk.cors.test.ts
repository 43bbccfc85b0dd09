import { describe, expect, it } from "vitest";
import { call, createProject, restHeaders, sdkHeaders } from "../support/harness";

const ORIGIN = "https://shop.example.com";

const preflight = (path: string, requestHeaders = "content-type,x-api-key") =>
  call("OPTIONS", path, {
    headers: {
      Origin: ORIGIN,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": requestHeaders,
    },
  });

describe("CORS: /v1/sdk/batch only", () => {
  it("answers a preflight from any origin for the headers the SDK sends", async () => {
    const res = await preflight("/v1/sdk/batch");
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    const allowed = (res.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "x-api-key"]));
  });

  it("lets the page read the answer of a batch, and of a refused one", async () => {
    const p = await createProject("web");
    const body = { installation_id: crypto.randomUUID(), ops: [{ id: "o1", type: "event", name: "opened" }] };
    const ok = await call("POST", "/v1/sdk/batch", { headers: { ...sdkHeaders(p), Origin: ORIGIN }, body });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(ok.headers.get("Access-Control-Expose-Headers")).toBe("Retry-After,X-Request-Id");
    expect(ok.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers.get("Content-Type")).toMatch(/^application\/json/);

    // Refused by validation, after the key and the rate limit passed.
    const invalid = await call("POST", "/v1/sdk/batch", {
      headers: { ...sdkHeaders(p), Origin: ORIGIN },
      body: { installation_id: "not-a-uuid", ops: [] },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(invalid.headers.get("Access-Control-Expose-Headers")).toBe("Retry-After,X-Request-Id");

    const refused = await call("POST", "/v1/sdk/batch", {
      headers: { "X-Api-Key": "sdk_wrong", Origin: ORIGIN },
      body,
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(refused.headers.get("Access-Control-Expose-Headers")).toContain("Retry-After");
  });

  it("gives no other route CORS: they are for servers", async () => {
    for (const path of ["/v1/profiles/update", "/v1/admin/projects", "/v1/segments/query", "/v1/sdk/other"]) {
      const res = await preflight(path, "authorization,content-type");
      expect(res.headers.get("Access-Control-Allow-Origin"), path).toBeNull();
      expect(res.headers.get("Access-Control-Allow-Headers"), path).toBeNull();
    }
    const p = await createProject();
    const lookup = await call("GET", "/v1/profiles?custom_id=user-1", {
      headers: { ...restHeaders(p), Origin: ORIGIN },
    });
    expect(lookup.status).toBe(404);
    expect(lookup.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
