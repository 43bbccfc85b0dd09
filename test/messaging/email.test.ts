import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../src/messaging/channels/channel";
import { EmailChannel } from "../../src/messaging/channels/email";
import { adminHeaders, call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { deliverTo } from "../support/queues";
import { send, untilDone } from "../support/webpush";

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

describe("transactional email to a profile's $email_address", () => {
  it("sends the email part through the send_email binding, ignoring $email_marketing, once", async () => {
    const p = await createProject("web");
    const put = await call("PUT", `/v1/admin/projects/${p.projectId}/channels/email`, {
      headers: adminHeaders,
      body: { from: "shop@example.com" },
    });
    expect(put.status).toBe(200);
    // A buyer who opted out of marketing still gets a receipt; another has no address; a third has
    // an address the binding refuses (it lets through buyer@shop.example and a@b.co only).
    await batch(p, crypto.randomUUID(), [
      identify("buyer-1"),
      attributes({ $email_address: "buyer@shop.example", $email_marketing: "unsubscribed" }),
    ]);
    await batch(p, crypto.randomUUID(), [identify("no-address")]);
    await batch(p, crypto.randomUUID(), [identify("refused"), attributes({ $email_address: "other@shop.example" })]);
    const body = {
      group_id: "receipts",
      recipients: { custom_ids: ["buyer-1", "no-address", "refused"] },
      message: { title: "Receipt", body: "Thanks" },
      email: { subject: "Your receipt", text: "Total: 12 €" },
    };
    const res = await send(p, body);
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    const done = await untilDone(p, token);
    expect(done).toMatchObject({ recipients: 3, sent: 1, errors: 1, unreachable: 1 });
    const buyer = await profileBy(p, { custom_id: "buyer-1" });
    const sent = buyer.body?.events.filter((e) => e.name === "email_sent") ?? [];
    expect(sent).toHaveLength(1);
    const refused = await profileBy(p, { custom_id: "refused" });
    const error = refused.body?.events.find((e) => e.name === "email_error") as
      | { attributes: Record<string, unknown> }
      | undefined;
    expect(error?.attributes).toMatchObject({
      transactional_token: token,
      error: expect.stringContaining("other@shop.example not allowed"),
    });

    // The same piece delivered again sends nothing twice.
    const piece = {
      type: "message_piece",
      token,
      project_id: p.projectId,
      piece: 0,
      custom_ids: ["buyer-1", "no-address", "refused"],
      install_ids: [],
      tokens: [],
    };
    const again = await deliverTo("edge-cdp-messages", [piece]);
    expect(again.explicitAcks).toEqual(["m0"]);
    const after = await profileBy(p, { custom_id: "buyer-1" });
    expect(after.body?.events.filter((e) => e.name === "email_sent")).toHaveLength(1);
    const rows = await env.DB.prepare("SELECT attempts FROM message_deliveries WHERE token = ? AND state = 'sent'")
      .bind(token)
      .all<{ attempts: number }>();
    expect(rows.results).toEqual([{ attempts: 1 }]);
  });

  it("sends no email without an email part, or without a sender set up", async () => {
    const p = await createProject("web");
    await batch(p, crypto.randomUUID(), [identify("buyer-2"), attributes({ $email_address: "a@b.co" })]);
    const pushOnly = await send(p, {
      group_id: "g",
      recipients: { custom_ids: ["buyer-2"] },
      message: { title: "Hi", body: "There" },
    });
    const noSender = await send(p, {
      group_id: "g",
      recipients: { custom_ids: ["buyer-2"] },
      message: { title: "Hi", body: "There" },
      email: { subject: "Hi" },
    });
    for (const res of [pushOnly, noSender]) {
      const done = await untilDone(p, (await res.json<{ token: string }>()).token);
      expect(done).toMatchObject({ sent: 0, errors: 0, unreachable: 1 });
    }
    const view = await profileBy(p, { custom_id: "buyer-2" });
    expect(view.body?.events.some((e) => e.name.startsWith("email_"))).toBe(false);
  });
});
