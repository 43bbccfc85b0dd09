import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminHeaders, call, createProject, errorOf, restHeaders, sdkHeaders } from "./support/harness";
import { attributes, batch, event, identify, installationStub, profileBy, querySql } from "./support/identity";

const LONE = "\ud800";

async function refusedAt(res: Response, paths: string[]) {
  expect(res.status).toBe(400);
  const error = await errorOf(res);
  expect(error.code).toBe("VALIDATION_FAILED");
  expect(error.issues?.map((i) => i.path)).toEqual(paths);
}

describe("text that is not valid Unicode is refused in every JSON body, and nothing is written", () => {
  it("SDK batch: an attribute value, an event attribute, an event object key, and a custom ID", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const ops = [
      attributes({ plan: `pro${LONE}` }),
      event("viewed", { item: { [`k${LONE}`]: 1 }, label: LONE }),
      identify(`user${LONE}`),
    ];
    // JSON.stringify writes a lone surrogate as the escape \ud800, as a client would send it.
    const res = await call("POST", "/v1/sdk/batch", { headers: sdkHeaders(p), body: { installation_id: i, ops } });
    await refusedAt(res, [
      "ops.0.attributes.plan",
      "ops.1.attributes.item.k\ufffd",
      "ops.1.attributes.label",
      "ops.2.custom_id",
    ]);
    // Not even the object's tables: they are created by its first write.
    expect(await querySql(installationStub(p.projectId, i), "SELECT name FROM sqlite_master")).toEqual([]);
  });

  it("Profile API update: an attribute value", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "u1" }, attributes: { city: `Paris${LONE}` } }],
    });
    await refusedAt(res, ["0.attributes.city"]);
    expect((await profileBy(p, { custom_id: "u1" })).status).toBe(404);
  });

  it("audiences and admin: a description and a project name", async () => {
    const p = await createProject();
    const audience = await call("POST", "/v1/audiences", {
      headers: restHeaders(p),
      body: { name: "vip", type: "custom_ids", description: `x${LONE}` },
    });
    await refusedAt(audience, ["description"]);
    const list = await call("GET", "/v1/audiences", { headers: restHeaders(p) });
    expect(JSON.stringify(await list.json())).not.toContain('"vip"');

    const before = await env.DB.prepare("SELECT count(*) AS n FROM projects").first<{ n: number }>();
    const project = await call("POST", "/v1/admin/projects", { headers: adminHeaders, body: { name: `Shop${LONE}` } });
    await refusedAt(project, ["name"]);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM projects").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });
});

describe("well-formed text passes untouched", () => {
  it("keeps a surrogate pair sent as escapes, and a literal backslash-u that is only text", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [attributes({ mood: "😀", path: "C:\\ud800" })]);
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.attributes.mood).toMatchObject({ value: "😀" });
    expect(body?.attributes.path).toMatchObject({ value: "C:\\ud800" });
  });
});

describe("security", () => {
  it("asks for a key before it looks at the text: no key, 401", async () => {
    const res = await call("POST", "/v1/sdk/batch", {
      body: { installation_id: crypto.randomUUID(), ops: [attributes({ plan: LONE })] },
    });
    expect(res.status).toBe(401);
  });
});
