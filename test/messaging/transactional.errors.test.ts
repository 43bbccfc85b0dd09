import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, refusedRestCallers, sdkHeaders } from "../support/harness";
import { pushesTo, send, subscribedInstallation, subscription } from "../support/webpush";

let project: Project;
let other: Project;
beforeAll(async () => {
  project = await createProject("web");
  other = await createProject("web");
});

const message = { title: "t", body: "b" };
const messagesOf = async (p: Project) =>
  (
    await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE project_id = ?")
      .bind(p.projectId)
      .first<{ n: number }>()
  )?.n;

describe("POST /v1/messages/transactional refuses bad input and writes nothing", () => {
  it("10,001 recipients in all lists: 400, nothing sent", async () => {
    const sub = await subscription(project);
    const installationId = await subscribedInstallation(project, sub);
    const custom_ids = Array.from({ length: 10_000 }, (_, k) => `user-${k}`);
    const res = await send(project, {
      group_id: "g",
      recipients: { custom_ids, install_ids: [installationId] },
      message,
    });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.[0]?.path).toBe("recipients");
    expect(await messagesOf(project)).toBe(0);
    expect(await pushesTo(sub)).toHaveLength(0);
  });

  it.each([
    ["no recipients", { group_id: "g", recipients: {}, message }, "recipients"],
    ["no message", { group_id: "g", recipients: { custom_ids: ["a"] } }, "message"],
    [
      "a placeholder custom ID",
      { group_id: "g", recipients: { custom_ids: ["null"] }, message },
      "recipients.custom_ids.0",
    ],
    [
      "an installation ID that is not a UUID",
      { group_id: "g", recipients: { install_ids: ["x"] }, message },
      "recipients.install_ids.0",
    ],
    [
      "custom_payload not a JSON object",
      { group_id: "g", recipients: { custom_ids: ["a"] }, message, custom_payload: "[1]" },
      "custom_payload",
    ],
    ["an unknown field", { group_id: "g", recipients: { custom_ids: ["a"] }, message, colour: "red" }, "colour"],
    [
      "a payload over 4 KB encrypted",
      {
        group_id: "g",
        recipients: { custom_ids: ["a"] },
        message: { title: "t", body: "é".repeat(2000) },
        custom_payload: JSON.stringify({ x: "y".repeat(1500) }),
      },
      "message",
    ],
  ])("%s", async (_name, body, path) => {
    const res = await send(project, body);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.issues?.map((i) => i.path)).toContain(path);
    expect(await messagesOf(project)).toBe(0);
  });
});

describe("security", () => {
  it.each(
    refusedRestCallers(
      () => project,
      () => other,
    ),
  )("send: $name is refused", async (caller) => {
    const res = await call("POST", "/v1/messages/transactional", {
      headers: caller.headers(),
      body: { group_id: "g", recipients: { custom_ids: ["a"] }, message },
    });
    expect(res.status).toBe(caller.status);
    expect((await errorOf(res)).code).toBe(caller.code);
    expect(await messagesOf(project)).toBe(0);
  });

  it("another project's message is not found, and its installations are not reached", async () => {
    const sub = await subscription(other);
    const theirs = await subscribedInstallation(other, sub);
    const res = await send(project, { group_id: "g", recipients: { install_ids: [theirs] }, message });
    const { token } = await res.json<{ token: string }>();
    const seen = await call("GET", `/v1/messages/${token}`, {
      headers: { Authorization: `Bearer ${other.restKey}`, "X-Project-Id": other.projectId },
    });
    expect(seen.status).toBe(404);
    const ours = await call("GET", `/v1/messages/${token}`, {
      headers: { Authorization: `Bearer ${project.restKey}`, "X-Project-Id": project.projectId },
    });
    expect(ours.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await pushesTo(sub)).toHaveLength(0);
  });
});

describe("GET /v1/sdk/push-config", () => {
  it("answers the project's VAPID public key: a 65-byte uncompressed P-256 point, the same each time", async () => {
    const first = await call("GET", "/v1/sdk/push-config", { headers: sdkHeaders(project) });
    expect(first.status).toBe(200);
    const { vapid_public_key } = await first.json<{ vapid_public_key: string }>();
    const bytes = Uint8Array.from(atob(vapid_public_key.replaceAll("-", "+").replaceAll("_", "/")), (c) =>
      c.charCodeAt(0),
    );
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
    const again = await call("GET", "/v1/sdk/push-config", { headers: sdkHeaders(project) });
    expect(await again.json()).toEqual({ vapid_public_key });
    const theirs = await call("GET", "/v1/sdk/push-config", { headers: sdkHeaders(other) });
    expect((await theirs.json<{ vapid_public_key: string }>()).vapid_public_key).not.toBe(vapid_public_key);
  });

  it("makes the key lazily for a project created before Web Push, and never stores it in clear", async () => {
    await env.DB.prepare("DELETE FROM channels WHERE project_id = ?").bind(project.projectId).run();
    const res = await call("GET", "/v1/sdk/push-config", { headers: sdkHeaders(project) });
    expect(res.status).toBe(200);
    const row = await env.DB.prepare("SELECT public, secret FROM channels WHERE project_id = ? AND channel = 'webpush'")
      .bind(project.projectId)
      .first<{ public: string; secret: string }>();
    expect(row?.public).toBe((await res.json<{ vapid_public_key: string }>()).vapid_public_key);
    expect(row?.secret).toMatch(/^v1\./);
    expect(row?.secret).not.toContain("privateKey");
  });

  it("refuses a missing key and a REST key", async () => {
    expect((await call("GET", "/v1/sdk/push-config")).status).toBe(401);
    const rest = await call("GET", "/v1/sdk/push-config", { headers: { Authorization: `Bearer ${project.restKey}` } });
    expect(rest.status).toBe(403);
  });
});

describe("push_token op with provider webpush", () => {
  const batch = (token: string) =>
    call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(project),
      body: {
        installation_id: crypto.randomUUID(),
        ops: [{ id: "t", type: "push_token", provider: "webpush", token }],
      },
    });
  const keys = { p256dh: `BA${"A".repeat(85)}`, auth: "AAAAAAAAAAAAAAAAAAAAAA" };

  it.each([
    ["not JSON", "abc"],
    ["an unknown host", JSON.stringify({ endpoint: "https://push.example.com/x", keys })],
    ["http:// without ALLOW_HTTP_WEBHOOKS", JSON.stringify({ endpoint: "http://127.0.0.1:9999/x", keys })],
    [
      "a short p256dh",
      JSON.stringify({ endpoint: "https://fcm.googleapis.com/wp/x", keys: { ...keys, p256dh: "BAAA" } }),
    ],
    ["a short auth", JSON.stringify({ endpoint: "https://fcm.googleapis.com/wp/x", keys: { ...keys, auth: "AAAA" } })],
  ])("refuses %s", async (_name, token) => {
    const res = await batch(token);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).issues?.[0]?.path).toBe("ops.0.token");
  });

  it("stores a subscription on a known push service in one form", async () => {
    const sub = await subscription(project);
    const parsed = JSON.parse(sub.token);
    const res = await batch(JSON.stringify({ keys: parsed.keys, endpoint: parsed.endpoint, expirationTime: null }));
    expect(res.status).toBe(200);
  });
});
