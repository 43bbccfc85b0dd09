import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project } from "../support/harness";
import { batchCall, batchErrorOf, credentialsOf } from "./support";

let owner: Project;
let other: Project;
beforeAll(async () => {
  owner = await createProject("web");
  other = await createProject("web");
});

const send = { group_id: "welcome", recipients: { custom_ids: ["t-user"] }, message: { title: "Hi", body: "Hello" } };
const messages = async () => (await env.DB.prepare("SELECT count(*) AS n FROM messages").first<{ n: number }>())?.n;
const post = (credentials: { apiKey?: string; restKey?: string }, options: { body?: unknown; raw?: string }) =>
  batchCall("POST", credentials, "/transactional/send", { version: "1.1", ...options });

describe("POST /1.1/{API_KEY}/transactional/send, as the other Batch routes", () => {
  it.each([
    ["another project's REST key", () => ({ apiKey: owner.sdkKey, restKey: other.restKey })],
    ["an unknown app key", () => ({ apiKey: `sdk_${crypto.randomUUID()}_${"a".repeat(43)}`, restKey: owner.restKey })],
    ["no X-Authorization", () => ({ apiKey: owner.sdkKey })],
  ])("%s: 401 with batch_code 10 in the shared envelope, nothing recorded", async (_name, credentials) => {
    const before = await messages();
    const res = await post(credentials(), { body: send });
    expect(res.status).toBe(401);
    const error = await batchErrorOf(res);
    expect(error).toMatchObject({ code: "UNAUTHORIZED", batch_code: 10 });
    expect(res.headers.get("X-Request-Id")).toBe(error.request_id);
    expect(await messages()).toBe(before);
  });

  it("errors carry Batch's codes: bad JSON 32, a missing field 30, a bad one 31; nothing recorded", async () => {
    const before = await messages();
    const cases: [{ body?: unknown; raw?: string }, number, string?][] = [
      [{ raw: "{not json" }, 32],
      [{ body: { group_id: "g", message: send.message } }, 30, "recipients"],
      [{ body: { ...send, priority: "urgent" } }, 31, "priority"],
      [{ body: { ...send, app_ids: [owner.appId] } }, 31, "app_ids"],
    ];
    for (const [options, code, path] of cases) {
      const res = await post(credentialsOf(owner), options);
      expect(res.status).toBe(400);
      const error = await batchErrorOf(res);
      expect(error.batch_code, JSON.stringify(error)).toBe(code);
      if (path) expect(error.issues?.map((i) => i.path)).toContain(path);
    }
    expect(await messages()).toBe(before);
  });

  it("sends with a trailing slash too, and is in the OpenAPI document under Batch's security", async () => {
    const res = await batchCall("POST", credentialsOf(owner), "/transactional/send/", { version: "1.1", body: send });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ token: expect.any(String) });
    const doc = await (await call("GET", "/openapi.json")).json<{
      paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>;
    }>();
    const route = doc.paths["/1.1/{api_key}/transactional/send"]?.post;
    expect(route?.security).toEqual([{ BatchRestKey: [] }]);
    expect(route?.tags).toEqual(["batch"]);
  });
});
