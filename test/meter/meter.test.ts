import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { metered } from "../../src/meter/bindings";
import { readMeter } from "../../src/meter/counters";
import { adminHeaders, call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, batch, event } from "../support/identity";

// wrangler.toml ships METER = "off"; test/meter/*.metered.test.ts run with it on.
describe("the billable-unit meter, off", () => {
  it("answers 404 in the error envelope, to the admin token too", async () => {
    for (const [method, path] of [
      ["GET", "/v1/admin/meter"],
      ["POST", "/v1/admin/meter/reset"],
    ] as const) {
      const res = await call(method, path, { headers: adminHeaders });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("NOT_FOUND");
    }
  });

  it("still refuses other keys before saying anything", async () => {
    const p = await createProject();
    expect((await call("GET", "/v1/admin/meter")).status).toBe(401);
    expect((await call("GET", "/v1/admin/meter", { headers: restHeaders(p) })).status).toBe(403);
  });

  it("wraps no binding and counts nothing", async () => {
    expect(env.METER).toBe("off");
    expect(metered(env)).toBe(env);
    const p = await createProject();
    await batch(p, crypto.randomUUID(), [attributes({ a: 1 }), event("e")]);
    expect(Object.values(readMeter().units).every((n) => n === 0)).toBe(true);
  });
});
