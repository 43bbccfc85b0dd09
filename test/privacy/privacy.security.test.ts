import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, refusedRestCallers, restHeaders } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { archiveOf, run } from "./support";

let owner: Project;
let other: Project;
let reviewId: string;

beforeAll(async () => {
  owner = await createProject();
  other = await createProject();
  await batch(owner, crypto.randomUUID(), [identify("secret-user"), attributes({ ssn: "123" })]);
  reviewId = (await run(owner, { type: "review", identifier: { type: "custom_id", value: "secret-user" } })).request_id;
});

async function requestCount(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM privacy_requests").first<{ n: number }>();
  return row?.n ?? -1;
}

describe("privacy requests: security", () => {
  it.each(
    refusedRestCallers(
      () => owner,
      () => other,
    ),
  )("$name gets nothing", async ({ status, code, headers }) => {
    const before = await requestCount();
    const post = await call("POST", "/v1/privacy/requests", {
      headers: headers(),
      body: { type: "remove", identifier: { type: "custom_id", value: "secret-user" } },
    });
    expect(post.status).toBe(status);
    expect((await errorOf(post)).code).toBe(code);
    expect(await requestCount()).toBe(before);
    for (const path of [
      "/v1/privacy/requests",
      `/v1/privacy/requests/${reviewId}`,
      `/v1/privacy/requests/${reviewId}/archive`,
    ]) {
      const res = await call("GET", path, { headers: headers() });
      expect(res.status).toBe(status);
      expect(await res.text()).not.toContain("secret-user");
    }
    expect((await profileBy(owner, { custom_id: "secret-user" })).status).toBe(200);
  });

  it("another project's own key sees none of this project's requests, and its remove touches nothing here", async () => {
    expect((await call("GET", `/v1/privacy/requests/${reviewId}`, { headers: restHeaders(other) })).status).toBe(404);
    expect((await archiveOf(other, reviewId)).status).toBe(404);
    const list = await call("GET", "/v1/privacy/requests", { headers: restHeaders(other) });
    expect((await list.json<{ requests: unknown[] }>()).requests).toEqual([]);
    const done = await run(other, { type: "remove", identifier: { type: "custom_id", value: "secret-user" } });
    expect(done.error).toBe("not_found");
    expect((await profileBy(owner, { custom_id: "secret-user" })).status).toBe(200);
  });
});
