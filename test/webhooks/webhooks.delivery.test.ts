import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { profileRemovedItem, type WebhookItem } from "../../src/webhooks/items";
import { publishWebhookItems } from "../../src/webhooks/publish";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, event } from "../support/identity";
import {
  createWebhook,
  deliveries,
  eventually,
  Receivers,
  signingSecret,
  verify,
  type WebhookBody,
} from "../support/webhooks";

const uuid = () => crypto.randomUUID();
const DAY_MS = 24 * 60 * 60 * 1000;

let receivers: Receivers;
beforeEach(() => {
  // Retries come back at once and a silent receiver gives up after 50 ms: the backoff and the
  // 10 s are the runtime's parameters, checked on their own in webhooks.unit.test.ts.
  receivers = new Receivers().install({ retryDelaySeconds: () => 0, timeoutMs: 50 });
});
afterEach(() => receivers.restore());

async function webhook(p: Project, id: string): Promise<WebhookBody> {
  const res = await call("GET", `/v1/webhooks/${id}`, { headers: restHeaders(p) });
  return res.json<WebhookBody>();
}

describe("retries", () => {
  it("a receiver that fails twice gets the same items again, then succeeds; another webhook gets them once", async () => {
    const p = await createProject();
    const flaky = receivers.url(
      (n) => new Response(n <= 2 ? "down for maintenance" : "ok", { status: n <= 2 ? 500 : 200 }),
    );
    const steady = receivers.url();
    const flakyHook = await createWebhook(p, flaky, ["event.*"]);
    await createWebhook(p, steady, ["event.*"]);
    await batch(p, uuid(), [event("purchase"), event("refund")]);

    await eventually(async () => expect((await deliveries(p, flakyHook.webhook_id))[0]?.outcome).toBe("delivered"));
    const posts = receivers.at(flaky);
    expect(posts).toHaveLength(3);
    const ids = posts.map((post) => post.items.map((it) => it.id));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    // The same `webhook-id` on every attempt, each signed afresh.
    expect(new Set(posts.map((post) => post.headers["webhook-id"])).size).toBe(1);
    const secret = await signingSecret(p.projectId);
    for (const post of posts) verify(secret, post);
    // The retries were the flaky webhook's own message: the steady one was not sent anything again.
    expect(receivers.at(steady)).toHaveLength(1);
    expect(receivers.itemsAt(steady).map((it) => it.id)).toEqual(ids[0]);

    const log = await deliveries(p, flakyHook.webhook_id);
    expect(log.map((a) => [a.attempt, a.outcome, a.status, a.error])).toEqual([
      [3, "delivered", 200, null],
      [2, "retrying", 500, "HTTP 500"],
      [1, "retrying", 500, "HTTP 500"],
    ]);
    expect(log[1]?.response_excerpt).toBe("down for maintenance");
    expect(log.every((a) => a.items === 2 && a.latency_ms >= 0 && !Number.isNaN(Date.parse(a.time)))).toBe(true);
    expect((await webhook(p, flakyHook.webhook_id)).failing_since).toBeNull();
  });

  it("a receiver that never answers is retried, then failed and disabled after 24 h, without holding back another", async () => {
    const p = await createProject();
    const dead = receivers.url(() => "hang");
    const alive = receivers.url();
    const deadHook = await createWebhook(p, dead, ["event.*"]);
    const aliveHook = await createWebhook(p, alive, ["event.*"]);
    await batch(p, uuid(), [event("first")]);

    // The live receiver has its item while the dead one is still being retried.
    await eventually(async () => {
      expect(receivers.itemsAt(alive).map((it) => it.topic)).toEqual(["event.first"]);
      expect((await deliveries(p, deadHook.webhook_id)).length).toBeGreaterThanOrEqual(2);
    });
    const meanwhile = await deliveries(p, deadHook.webhook_id);
    expect(meanwhile.every((a) => a.outcome === "retrying" && a.status === null)).toBe(true);
    expect(meanwhile[0]?.error).toBe("no answer within 50 ms");
    expect(await webhook(p, deadHook.webhook_id)).toMatchObject({ enabled: true, failing_since: expect.any(String) });
    expect((await deliveries(p, aliveHook.webhook_id)).map((a) => a.outcome)).toEqual(["delivered"]);

    receivers.advance(DAY_MS + 1000);
    await eventually(async () => expect((await webhook(p, deadHook.webhook_id)).enabled).toBe(false));
    const disabled = await webhook(p, deadHook.webhook_id);
    expect(disabled.disabled_reason).toMatch(/failed for 24 h/);
    expect((await deliveries(p, deadHook.webhook_id))[0]?.outcome).toBe("failed");

    // A disabled webhook is not sent anything more; the other one goes on.
    const before = receivers.at(dead).length;
    await batch(p, uuid(), [event("second")]);
    await eventually(() =>
      expect(receivers.itemsAt(alive).map((it) => it.topic)).toEqual(["event.first", "event.second"]),
    );
    expect(receivers.at(dead)).toHaveLength(before);
    expect((await deliveries(p, deadHook.webhook_id)).filter((a) => a.outcome === "failed")).toHaveLength(1);
  });
});

describe("publishing items (what privacy requests call)", () => {
  it("a profile.removed item reaches a webhook subscribed to it, signed, and no other", async () => {
    const p = await createProject();
    const removedUrl = receivers.url();
    const eventsUrl = receivers.url();
    await createWebhook(p, removedUrl, ["profile.removed"]);
    await createWebhook(p, eventsUrl, ["event.*", "identity.*"]);
    const item = profileRemovedItem(p.projectId, uuid(), {
      profile_id: uuid(),
      custom_id: "gone-user",
      installation_id: null,
      time: new Date().toISOString(),
    });
    expect(await publishWebhookItems(env, [item])).toBe(1);
    await eventually(() => expect(receivers.itemsAt(removedUrl)).toEqual([item]));
    verify(await signingSecret(p.projectId), receivers.at(removedUrl)[0] as never);
    expect(receivers.at(eventsUrl)).toEqual([]);
  });

  it("sends at most 100 items per POST", async () => {
    const p = await createProject();
    const url = receivers.url();
    await createWebhook(p, url, ["profile.removed"]);
    const items: WebhookItem[] = Array.from({ length: 250 }, (_, n) =>
      profileRemovedItem(p.projectId, `req-${n}`, {
        profile_id: uuid(),
        custom_id: null,
        installation_id: null,
        time: new Date().toISOString(),
      }),
    );
    expect(await publishWebhookItems(env, items)).toBe(3);
    await eventually(() => expect(receivers.itemsAt(url)).toHaveLength(250));
    expect(
      receivers
        .at(url)
        .map((post) => post.items.length)
        .sort((a, b) => a - b),
    ).toEqual([50, 100, 100]);
    expect(new Set(receivers.itemsAt(url).map((it) => it.id)).size).toBe(250);
  });
});

describe("what is not sent", () => {
  it("nothing unsigned: a project without a signing secret gets a failed attempt in the log, and no POST", async () => {
    const p = await createProject();
    const url = receivers.url();
    const hook = await createWebhook(p, url, ["event.*"]);
    await env.DB.prepare("UPDATE projects SET signing_secret = NULL WHERE id = ?").bind(p.projectId).run();
    await batch(p, uuid(), [event("purchase")]);
    await eventually(async () => expect(await deliveries(p, hook.webhook_id)).toHaveLength(1));
    expect((await deliveries(p, hook.webhook_id))[0]).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("no signing secret"),
    });
    expect(receivers.at(url)).toEqual([]);
  });

  it("a stored URL the rules now refuse is not POSTed to: each delivery checks it again", async () => {
    const p = await createProject();
    const witness = receivers.url();
    const hook = await createWebhook(p, receivers.url(), ["event.*"]);
    await createWebhook(p, witness, ["event.*"]);
    // A row written before a rule tightened (or by hand): the URL now names the metadata service.
    const metadata = "https://169.254.169.254/latest/meta-data";
    await env.DB.prepare("UPDATE webhooks SET url = ? WHERE id = ?").bind(metadata, hook.webhook_id).run();
    await batch(p, uuid(), [event("after_change")]);
    await eventually(() => expect(receivers.itemsAt(witness)).toHaveLength(1));
    await eventually(async () => expect((await deliveries(p, hook.webhook_id))[0]?.outcome).toBe("failed"));
    expect(receivers.at(metadata)).toEqual([]);
    expect((await deliveries(p, hook.webhook_id))[0]?.error).toMatch(/^not sent: the URL is not allowed/);
  });

  it("nothing to a webhook its owner disabled, until it is enabled again", async () => {
    const p = await createProject();
    const paused = receivers.url();
    const witness = receivers.url();
    const hook = await createWebhook(p, paused, ["event.*"]);
    await createWebhook(p, witness, ["event.*"]);
    const off = await call("PATCH", `/v1/webhooks/${hook.webhook_id}`, {
      headers: restHeaders(p),
      body: { enabled: false },
    });
    expect(off.status).toBe(200);
    await batch(p, uuid(), [event("while_paused")]);
    await eventually(() => expect(receivers.itemsAt(witness)).toHaveLength(1));
    expect(receivers.at(paused)).toEqual([]);

    await call("PATCH", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(p), body: { enabled: true } });
    await batch(p, uuid(), [event("after")]);
    await eventually(() => expect(receivers.itemsAt(paused).map((it) => it.topic)).toEqual(["event.after"]));
  });
});
