import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, refusedRestCallers, restHeaders } from "../support/harness";
import { createWebhook, deliveries, Receivers, type WebhookBody } from "../support/webhooks";

let a: Project;
let b: Project;
let hook: WebhookBody;
const receivers = new Receivers();

beforeAll(async () => {
  receivers.install();
  a = await createProject();
  b = await createProject();
  hook = await createWebhook(a, receivers.url(), ["event.*"], "A's automation");
  expect((await call("POST", `/v1/webhooks/${hook.webhook_id}/test`, { headers: restHeaders(a) })).status).toBe(200);
});
afterAll(() => receivers.restore());

/** Every webhook row and logged attempt, to prove a refused request wrote (or sent) nothing. */
async function snapshot() {
  const [hooks, attempts] = await env.DB.batch([
    env.DB.prepare("SELECT * FROM webhooks ORDER BY id"),
    env.DB.prepare("SELECT * FROM webhook_attempts ORDER BY id"),
  ]);
  return { hooks: hooks?.results, attempts: attempts?.results, posts: receivers.received.length };
}

async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  return error;
}

const endpoints: { name: string; send: (headers: Record<string, string>) => Promise<Response> }[] = [
  {
    name: "POST /v1/webhooks",
    send: (headers) =>
      call("POST", "/v1/webhooks", { headers, body: { url: "https://hooks.example.com/x", topics: ["event.*"] } }),
  },
  { name: "GET /v1/webhooks", send: (headers) => call("GET", "/v1/webhooks", { headers }) },
  { name: "GET /v1/webhooks/{id}", send: (headers) => call("GET", `/v1/webhooks/${hook.webhook_id}`, { headers }) },
  {
    name: "PATCH /v1/webhooks/{id}",
    send: (headers) =>
      call("PATCH", `/v1/webhooks/${hook.webhook_id}`, { headers, body: { url: "https://evil.example.com/" } }),
  },
  {
    name: "DELETE /v1/webhooks/{id}",
    send: (headers) => call("DELETE", `/v1/webhooks/${hook.webhook_id}`, { headers }),
  },
  {
    name: "POST /v1/webhooks/{id}/test",
    send: (headers) => call("POST", `/v1/webhooks/${hook.webhook_id}/test`, { headers }),
  },
  {
    name: "GET /v1/webhooks/{id}/deliveries",
    send: (headers) => call("GET", `/v1/webhooks/${hook.webhook_id}/deliveries`, { headers }),
  },
];

describe.each(endpoints)("$name refuses callers without project A's REST key", ({ send }) => {
  it.each(
    refusedRestCallers(
      () => a,
      () => b,
    ),
  )("$name: $status $code, and nothing is written or sent", async ({ status, code, headers }) => {
    const before = await snapshot();
    await refused(await send(headers()), status, code);
    expect(await snapshot()).toEqual(before);
  });
});

describe("project B, with its own valid key, sees nothing of project A's webhooks", () => {
  it("the list is empty", async () => {
    const res = await call("GET", "/v1/webhooks", { headers: restHeaders(b) });
    expect(await res.json()).toEqual({ webhooks: [] });
  });

  it.each([
    ["GET", () => call("GET", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(b) })],
    [
      "PATCH",
      () => call("PATCH", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(b), body: { enabled: false } }),
    ],
    ["DELETE", () => call("DELETE", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(b) })],
    ["test", () => call("POST", `/v1/webhooks/${hook.webhook_id}/test`, { headers: restHeaders(b) })],
    ["deliveries", () => call("GET", `/v1/webhooks/${hook.webhook_id}/deliveries`, { headers: restHeaders(b) })],
  ])("%s is 404, as for a webhook that does not exist, and changes nothing", async (_, send) => {
    const before = await snapshot();
    const error = await refused(await send(), 404, "NOT_FOUND");
    expect(error.message).toBe(`No webhook ${hook.webhook_id}.`);
    expect(await snapshot()).toEqual(before);
  });

  it("A's webhook and its log are intact", async () => {
    const res = await call("GET", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(a) });
    expect(await res.json()).toMatchObject({ enabled: true, url: hook.url, description: "A's automation" });
    expect(await deliveries(a, hook.webhook_id)).toHaveLength(1);
  });
});
