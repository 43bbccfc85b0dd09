import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { createWebhook, type WebhookBody } from "../support/webhooks";

let p: Project;
let hook: WebhookBody;

beforeAll(async () => {
  p = await createProject();
  hook = await createWebhook(p, "https://hooks.example.com/kept", ["event.*"]);
});

async function rows() {
  return (await env.DB.prepare("SELECT * FROM webhooks WHERE project_id = ? ORDER BY id").bind(p.projectId).all())
    .results;
}

async function invalid(res: Response) {
  expect(res.status).toBe(400);
  const error = await errorOf(res);
  expect(error.code).toBe("VALIDATION_FAILED");
  return error;
}

const badUrls: [string, string][] = [
  ["http:// without ALLOW_HTTP_WEBHOOKS", "http://hooks.example.com/x"],
  ["not a URL", "hooks.example.com/x"],
  ["another scheme", "ftp://hooks.example.com/x"],
  ["localhost", "https://localhost/x"],
  ["a .localhost name", "https://api.localhost:8443/x"],
  ["loopback IPv4", "https://127.0.0.1/x"],
  ["a private 10/8 address", "https://10.1.2.3/x"],
  ["a private 192.168/16 address", "https://192.168.0.10/x"],
  ["a private 172.16/12 address", "https://172.20.0.1/x"],
  ["link-local (cloud metadata)", "https://169.254.169.254/latest/meta-data"],
  ["an IPv4 address in hex", "https://0x7f000001/x"],
  ["loopback IPv6", "https://[::1]/x"],
  ["IPv4-mapped loopback IPv6", "https://[::ffff:127.0.0.1]/x"],
  ["unique-local IPv6", "https://[fd00::1]/x"],
  ["IPv4-compatible loopback IPv6", "https://[::7f00:1]/x"],
  ["IPv4-compatible link-local IPv6", "https://[::a9fe:a9fe]/x"],
  ["NAT64 loopback", "https://[64:ff9b::7f00:1]/x"],
  ["6to4 loopback", "https://[2002:7f00:1::]/x"],
  ["an internal name", "https://metadata.google.internal/x"],
  ["a single-label name", "https://intranet/x"],
  ["credentials in the URL", "https://user:pass@hooks.example.com/x"],
];

describe("bad URLs are refused, naming the url, and nothing is written", () => {
  it.each(badUrls)("POST: %s", async (_, url) => {
    const before = await rows();
    const error = await invalid(
      await call("POST", "/v1/webhooks", { headers: restHeaders(p), body: { url, topics: ["event.*"] } }),
    );
    expect(error.issues?.map((i) => i.path)).toEqual(["url"]);
    expect(await rows()).toEqual(before);
  });

  it.each(badUrls)("PATCH: %s", async (_, url) => {
    const before = await rows();
    await invalid(await call("PATCH", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(p), body: { url } }));
    expect(await rows()).toEqual(before);
  });
});

describe("topics", () => {
  it.each([
    ["an unknown family", "order.created"],
    ["an unknown identity kind", "identity.switch_user"],
    ["an event name outside [a-z0-9_]{1,30}", "event.Purchase"],
    ["a push event named (only push.* is a topic)", "push.push_opened"],
    ["a bare prefix", "event"],
    ["a wildcard everywhere", "*"],
  ])("%s is refused, naming its index", async (_, topic) => {
    const before = await rows();
    const error = await invalid(
      await call("POST", "/v1/webhooks", {
        headers: restHeaders(p),
        body: { url: "https://hooks.example.com/y", topics: ["event.*", topic] },
      }),
    );
    expect(error.issues).toEqual([{ path: "topics.1", message: expect.stringContaining(topic) }]);
    expect(await rows()).toEqual(before);
  });

  it("an empty list is refused", async () => {
    await invalid(
      await call("POST", "/v1/webhooks", {
        headers: restHeaders(p),
        body: { url: "https://hooks.example.com/y", topics: [] },
      }),
    );
  });

  it("every documented topic is accepted", async () => {
    const topics = [
      "event.purchase",
      "event.*",
      "push.*",
      "inapp.*",
      "identity.*",
      "identity.created",
      "identity.sign_in",
      "identity.login",
      "identity.logout",
      "identity.orphaned",
      "profile.removed",
      "privacy.completed",
    ];
    const res = await call("POST", "/v1/webhooks", {
      headers: restHeaders(p),
      body: { url: "https://hooks.example.com/all", topics },
    });
    expect(res.status).toBe(201);
    expect((await res.json<WebhookBody>()).topics).toEqual(topics);
    await call("DELETE", `/v1/webhooks/${(await rows()).at(-1)?.id}`, { headers: restHeaders(p) });
  });
});

describe("other bad input", () => {
  it.each([
    ["a missing url", { topics: ["event.*"] }],
    ["a missing topics", { url: "https://hooks.example.com/z" }],
    ["an unknown field", { url: "https://hooks.example.com/z", topics: ["event.*"], secret: "x" }],
    [
      "a description too long",
      { url: "https://hooks.example.com/z", topics: ["event.*"], description: "d".repeat(501) },
    ],
  ])("%s is 400 and writes nothing", async (_, body) => {
    const before = await rows();
    await invalid(await call("POST", "/v1/webhooks", { headers: restHeaders(p), body }));
    expect(await rows()).toEqual(before);
  });

  it("an ID that is not a UUID is 400; an unknown one is 404", async () => {
    await invalid(await call("GET", "/v1/webhooks/nope", { headers: restHeaders(p) }));
    const res = await call("GET", `/v1/webhooks/${crypto.randomUUID()}`, { headers: restHeaders(p) });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("a project has at most 20 webhooks", async () => {
    const q = await createProject();
    for (let n = 0; n < 20; n++) await createWebhook(q, `https://hooks.example.com/${n}`, ["event.*"]);
    const res = await call("POST", "/v1/webhooks", {
      headers: restHeaders(q),
      body: { url: "https://hooks.example.com/21", topics: ["event.*"] },
    });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("CONFLICT");
  });
});
