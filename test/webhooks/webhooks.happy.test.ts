import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { call, createProject, restHeaders } from "../support/harness";
import { batch, event, identify } from "../support/identity";
import { createWebhook, eventually, Receivers, signingSecret, verify } from "../support/webhooks";

const uuid = () => crypto.randomUUID();

let receivers: Receivers;
beforeEach(() => {
  receivers = new Receivers().install();
});
afterEach(() => receivers.restore());

describe("an event reaches a subscribed receiver", () => {
  it("as one signed POST of items the standardwebhooks package verifies", async () => {
    const p = await createProject();
    const url = receivers.url();
    const hook = await createWebhook(p, url, ["event.purchase"]);
    const i = uuid();
    const answer = await batch(p, i, [event("purchase", { amount: 12.5 })]);
    await eventually(() => expect(receivers.at(url)).toHaveLength(1));
    const [post] = receivers.at(url);
    if (!post) throw new Error("no post");
    expect(verify(await signingSecret(p.projectId), post)).toMatchObject({ webhook_id: hook.webhook_id });
    expect(post.webhook_id).toBe(hook.webhook_id);
    expect(post.items).toEqual([
      expect.objectContaining({
        topic: "event.purchase",
        project_id: p.projectId,
        profile_id: answer.profile_id,
        custom_id: null,
        installation_id: i,
        data: expect.objectContaining({ name: "purchase", attributes: { amount: 12.5 }, source: "sdk" }),
      }),
    ]);
    expect(post.items[0]?.id).toMatch(/^event:/);
  });
});

describe("identity transitions reach a subscribed receiver", () => {
  it("created, sign_in, login, orphaned and logout, each once, signed, with the profiles they concern", async () => {
    const p = await createProject();
    const url = receivers.url();
    await createWebhook(p, url, ["identity.*"]);
    const [i, j, c] = [uuid(), uuid(), `user-${uuid()}`];
    const first = await batch(p, i, []);
    const signedIn = await batch(p, i, [identify(c)]);
    const second = await batch(p, j, []);
    await batch(p, j, [identify(c)]);
    const loggedOut = await batch(p, i, [{ id: `op-${uuid()}`, type: "logout" }]);
    expect(loggedOut.custom_id).toBeNull();

    const expected = [
      { topic: "identity.created", profile_id: first.profile_id, custom_id: null, installation_id: i },
      { topic: "identity.sign_in", profile_id: signedIn.profile_id, custom_id: c, installation_id: i },
      { topic: "identity.created", profile_id: second.profile_id, custom_id: null, installation_id: j },
      { topic: "identity.login", profile_id: signedIn.profile_id, custom_id: c, installation_id: j },
      { topic: "identity.orphaned", profile_id: second.profile_id, custom_id: c, installation_id: j },
      { topic: "identity.logout", profile_id: signedIn.profile_id, custom_id: c, installation_id: i },
      // Logout is announced once, on the user's profile; the installation's new anonymous
      // profile is not announced on its own (its ID comes with the installation's next events).
    ];
    await eventually(() => expect(receivers.itemsAt(url)).toHaveLength(expected.length));
    const items = receivers.itemsAt(url);
    for (const e of expected) expect(items).toContainEqual(expect.objectContaining(e));
    // Sign-in is the anonymous profile moving to the custom ID: the same profile ID.
    expect(signedIn.profile_id).toBe(first.profile_id);
    expect(new Set(items.map((it) => it.id)).size).toBe(items.length);
    const secret = await signingSecret(p.projectId);
    for (const post of receivers.at(url)) verify(secret, post);
  });
});

describe("topic filters", () => {
  it("deliver only what each webhook names", async () => {
    const p = await createProject();
    const urls = {
      purchase: receivers.url(),
      all: receivers.url(),
      push: receivers.url(),
      signIn: receivers.url(),
      none: receivers.url(),
    };
    await createWebhook(p, urls.purchase, ["event.purchase"]);
    await createWebhook(p, urls.all, ["event.*"]);
    await createWebhook(p, urls.push, ["push.*"]);
    await createWebhook(p, urls.signIn, ["identity.sign_in"]);
    await createWebhook(p, urls.none, ["privacy.completed"]);
    const i = uuid();
    await batch(p, i, [event("purchase"), event("view_item"), event("push_opened")]);
    await batch(p, i, [identify(`user-${uuid()}`)]);
    // One more event after the rest, so that once it arrived every earlier item has too.
    await batch(p, i, [event("purchase")]);
    await eventually(() => expect(receivers.itemsAt(urls.all).map((it) => it.topic)).toHaveLength(4));

    const topics = (url: string) =>
      receivers
        .itemsAt(url)
        .map((it) => it.topic)
        .sort();
    await eventually(() => expect(topics(urls.purchase)).toEqual(["event.purchase", "event.purchase"]));
    expect(topics(urls.all)).toEqual(["event.purchase", "event.purchase", "event.push_opened", "event.view_item"]);
    expect(topics(urls.push)).toEqual(["event.push_opened"]);
    expect(topics(urls.signIn)).toEqual(["identity.sign_in"]);
    expect(receivers.at(urls.none)).toEqual([]);
  });

  it("another project's events never reach this project's webhooks", async () => {
    const [p, other] = [await createProject(), await createProject()];
    const mine = receivers.url();
    const theirs = receivers.url();
    await createWebhook(p, mine, ["event.*"]);
    await createWebhook(other, theirs, ["event.*"]);
    await batch(other, uuid(), [event("secret_thing")]);
    await batch(p, uuid(), [event("mine")]);
    await eventually(() => expect(receivers.itemsAt(mine)).toHaveLength(1));
    await eventually(() => expect(receivers.itemsAt(theirs)).toHaveLength(1));
    expect(receivers.itemsAt(mine)[0]?.topic).toBe("event.mine");
    expect(receivers.itemsAt(theirs)[0]?.project_id).toBe(other.projectId);
  });
});

describe("the webhooks API", () => {
  it("creates, lists, reads, changes and deletes a webhook", async () => {
    const p = await createProject();
    const url = receivers.url();
    const created = await call("POST", "/v1/webhooks", {
      headers: restHeaders(p),
      body: { url, topics: ["event.*", "identity.login"], description: "CRM sync" },
    });
    expect(created.status).toBe(201);
    const hook = await created.json<{ webhook_id: string; url: string; topics: string[]; enabled: boolean }>();
    expect(hook).toMatchObject({ url, topics: ["event.*", "identity.login"], enabled: true, description: "CRM sync" });

    const list = await call("GET", "/v1/webhooks", { headers: restHeaders(p) });
    expect((await list.json<{ webhooks: { webhook_id: string }[] }>()).webhooks.map((w) => w.webhook_id)).toEqual([
      hook.webhook_id,
    ]);

    const newUrl = receivers.url();
    const patched = await call("PATCH", `/v1/webhooks/${hook.webhook_id}`, {
      headers: restHeaders(p),
      body: { url: newUrl, topics: ["profile.removed"], enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      url: newUrl,
      topics: ["profile.removed"],
      enabled: false,
      disabled_reason: "disabled by its owner",
    });
    const reenabled = await call("PATCH", `/v1/webhooks/${hook.webhook_id}`, {
      headers: restHeaders(p),
      body: { enabled: true },
    });
    expect(await reenabled.json()).toMatchObject({ enabled: true, disabled_reason: null });

    const got = await call("GET", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(p) });
    expect(await got.json()).toMatchObject({ webhook_id: hook.webhook_id, url: newUrl, enabled: true });

    const deleted = await call("DELETE", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(p) });
    expect(deleted.status).toBe(204);
    const gone = await call("GET", `/v1/webhooks/${hook.webhook_id}`, { headers: restHeaders(p) });
    expect(gone.status).toBe(404);
  });

  it("sends a signed ping on test and logs the attempt", async () => {
    const p = await createProject();
    const url = receivers.url(() => new Response("pong", { status: 200 }));
    const hook = await createWebhook(p, url, ["event.*"]);
    const res = await call("POST", `/v1/webhooks/${hook.webhook_id}/test`, { headers: restHeaders(p) });
    expect(res.status).toBe(200);
    const result = await res.json<{ delivered: boolean; status: number; delivery_id: string }>();
    expect(result).toMatchObject({ delivered: true, status: 200, error: null });
    const [post] = receivers.at(url);
    if (!post) throw new Error("no ping");
    verify(await signingSecret(p.projectId), post);
    expect(post.headers["webhook-id"]).toBe(result.delivery_id);
    expect(post.items).toEqual([expect.objectContaining({ topic: "ping", project_id: p.projectId, data: {} })]);

    const log = await call("GET", `/v1/webhooks/${hook.webhook_id}/deliveries`, { headers: restHeaders(p) });
    expect((await log.json<{ deliveries: unknown[] }>()).deliveries).toEqual([
      expect.objectContaining({
        delivery_id: result.delivery_id,
        outcome: "delivered",
        status: 200,
        response_excerpt: "pong",
        items: 1,
        error: null,
      }),
    ]);
  });

  it("reports a ping the receiver refused, with a short excerpt of its answer", async () => {
    const p = await createProject();
    const url = receivers.url(() => new Response("x".repeat(5000), { status: 503 }));
    const hook = await createWebhook(p, url, ["event.*"]);
    const res = await call("POST", `/v1/webhooks/${hook.webhook_id}/test`, { headers: restHeaders(p) });
    expect(await res.json()).toMatchObject({ delivered: false, status: 503, error: "HTTP 503" });
    const log = await call("GET", `/v1/webhooks/${hook.webhook_id}/deliveries`, { headers: restHeaders(p) });
    const [attempt] = (await log.json<{ deliveries: { response_excerpt: string; outcome: string }[] }>()).deliveries;
    expect(attempt?.outcome).toBe("failed");
    expect(attempt?.response_excerpt).toBe("x".repeat(200));
  });
});
