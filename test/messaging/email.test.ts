import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../src/messaging/channels/channel";
import { EmailChannel } from "../../src/messaging/channels/email";
import { adminHeaders, call, createProject, errorOf, restHeaders } from "../support/harness";

const message: OutgoingMessage = {
  title: "Receipt",
  body: "Thanks",
  tokenField: "transactional_token",
  token: "tok-1",
  ttl: 60,
  priority: "normal",
  email: { subject: "Your receipt", text: "Total: 12 €", html: "<p>Total: 12 €</p>" },
};

describe("email channel", () => {
  it("hands the binding the subject, the address and the project's sender", async () => {
    const sent: unknown[] = [];
    const binding = {
      send: async (m: unknown) => {
        sent.push(m);
        return { messageId: "m1" };
      },
    } as Pick<SendEmail, "send">;
    const channel = new EmailChannel(binding, { from: "shop@example.com", name: "Shop" });
    expect(await channel.send("a@b.co", message)).toEqual({ status: "sent" });
    expect(sent).toEqual([
      {
        from: { email: "shop@example.com", name: "Shop" },
        to: "a@b.co",
        subject: "Your receipt",
        text: "Total: 12 €",
        html: "<p>Total: 12 €</p>",
      },
    ]);
  });

  it("a refusal by the binding is an error, not a retry", async () => {
    const binding = { send: async () => Promise.reject(new Error("sender not verified")) } as Pick<SendEmail, "send">;
    const outcome = await new EmailChannel(binding, { from: "x@example.com" }).send("a@b.co", message);
    expect(outcome).toMatchObject({ status: "error", reason: expect.stringContaining("sender not verified") });
    expect("retryAfter" in outcome).toBe(false);
  });

  it("reaches the real send_email binding as miniflare simulates it", async () => {
    const outcome = await new EmailChannel(env.EMAIL, { from: "shop@example.com" }).send("a@b.co", message);
    expect(outcome).toEqual({ status: "sent" });
  });
});

describe("PUT /v1/admin/projects/{id}/channels/email", () => {
  it("stores the sender; refuses a bad address and a REST key", async () => {
    const p = await createProject();
    const path = `/v1/admin/projects/${p.projectId}/channels/email`;
    const ok = await call("PUT", path, { headers: adminHeaders, body: { from: "shop@example.com", name: "Shop" } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ channel: "email", from: "shop@example.com" });
    const row = await env.DB.prepare("SELECT public FROM channels WHERE project_id = ? AND channel = 'email'")
      .bind(p.projectId)
      .first<{ public: string }>();
    expect(row?.public).toBe("shop@example.com");
    const bad = await call("PUT", path, { headers: adminHeaders, body: { from: "nope" } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).issues?.[0]?.path).toBe("from");
    const rest = await call("PUT", path, { headers: restHeaders(p), body: { from: "shop@example.com" } });
    expect(rest.status).toBe(403);
  });
});
