import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { projectShard } from "../../src/db/shards";
import { run } from "../privacy/support";
import { call, type Project, restHeaders } from "../support/harness";
import { batch, identify, opId } from "../support/identity";
import { shardDb } from "../support/shards";
import { send, untilDone } from "../support/webpush";
import {
  campaignProject,
  createCampaign,
  hello,
  type Person,
  person,
  projected,
  pushesOf,
  readCampaign,
  untilSent,
} from "./support";

let project: Project;
let alice1: Person;
let alice2: Person;
let bob: Person;
let carol: Person;
let dan: Person;
let anon: Person;

/**
 * A known population: alice (gold, two devices), bob (gold, opted out), carol (silver), dan
 * (gold, removed before the send) and an anonymous gold visitor.
 */
beforeAll(async () => {
  project = await campaignProject();
  alice1 = await person(project, { customId: "alice", attrs: { tier: "gold" } });
  alice2 = await person(project, { customId: "alice" });
  bob = await person(project, { customId: "bob", attrs: { tier: "gold" }, optedIn: false });
  carol = await person(project, { customId: "carol", attrs: { tier: "silver" } });
  dan = await person(project, { customId: "dan", attrs: { tier: "gold" } });
  anon = await person(project, { attrs: { tier: "gold" } });
  await projected(project, [alice1, alice2, bob, carol, dan, anon], ["alice", "bob", "carol", "dan"]);
  const removed = await run(project, { type: "remove", identifier: { type: "custom_id", value: "dan" } });
  expect(removed.status).toBe("done");
});

const gold = { where: { attribute: "tier", op: "eq", value: "gold" } };

describe("a campaign to a segment", () => {
  it("reaches exactly the matching, opted-in installations, once each, with outcome events", async () => {
    const token = await createCampaign(project, {
      name: "Gold",
      live: true,
      push_time: "now",
      targeting: gold,
      messages: hello,
    });
    const done = await untilSent(project, token);
    expect(done.stats).toEqual({ targeted: 3, sent: 3, errors: 0, tokens_deleted: 0, opened: 0 });
    const [a1, a2, b, c, d, n] = await pushesOf([alice1, alice2, bob, carol, dan, anon]);
    expect(a1).toHaveLength(1);
    expect(a2).toHaveLength(1);
    expect(n).toHaveLength(1);
    expect(b).toHaveLength(0);
    expect(c).toHaveLength(0);
    // Removed before the send: never reached.
    expect(d).toHaveLength(0);
    expect(a1?.[0]).toMatchObject({ verified: true });
    expect(a1?.[0]?.payload).toEqual({ title: "Hello", body: "News for you", campaign_token: token });
    const view = await call("GET", "/v1/profiles?custom_id=alice", { headers: restHeaders(project) });
    const events = (await view.json<{ events: { name: string; attributes: Record<string, unknown> }[] }>()).events;
    const sent = events.filter((e) => e.name === "push_sent");
    expect(sent).toHaveLength(2);
    for (const e of sent) {
      expect(e.attributes.campaign_token).toBe(token);
      expect(e.attributes.transactional_token).toBeUndefined();
    }
  });

  it("combines where, audiences and platforms with AND", async () => {
    const created = await call("POST", "/v1/audiences", {
      headers: restHeaders(project),
      body: { name: "vip", type: "custom_ids" },
    });
    expect(created.status).toBe(201);
    const filled = await call("PUT", "/v1/audiences/vip", {
      headers: restHeaders(project),
      body: { ids: ["alice", "carol"] },
    });
    expect(filled.status).toBe(200);
    await vi.waitFor(
      async () => {
        const shard = await projectShard(env, project.projectId);
        const row = await shard.d1
          .prepare("SELECT size FROM audiences WHERE project_id = ? AND name = 'vip'")
          .bind(project.projectId)
          .first<{ size: number }>();
        expect(row?.size).toBe(2);
      },
      { timeout: 10_000, interval: 100 },
    );
    const before = await pushesOf([alice1, alice2, carol, anon]);
    const both = await createCampaign(project, {
      name: "Gold VIPs",
      live: true,
      push_time: "now",
      targeting: { ...gold, audiences: ["vip"], platforms: ["web"] },
      messages: hello,
    });
    expect((await untilSent(project, both)).stats).toMatchObject({ targeted: 2, sent: 2 });
    const after = await pushesOf([alice1, alice2, carol, anon]);
    expect(after.map((p, k) => p.length - (before[k]?.length ?? 0))).toEqual([1, 1, 0, 0]);
    // No web installation is on iOS: nobody.
    const ios = await createCampaign(project, {
      name: "iOS",
      live: true,
      push_time: "now",
      targeting: { ...gold, platforms: ["ios"] },
      messages: hello,
    });
    expect((await untilSent(project, ios)).stats).toMatchObject({ targeted: 0, sent: 0 });
  });

  it("sends each profile its $language's message, else the one without a language, else the first", async () => {
    const p = await campaignProject();
    const fr = await person(p, { attrs: { cohort: "lang" }, language: "fr" });
    const de = await person(p, { attrs: { cohort: "lang" }, language: "de" });
    const none = await person(p, { attrs: { cohort: "lang" } });
    await projected(p, [fr, de, none]);
    const token = await createCampaign(p, {
      name: "Languages",
      live: true,
      push_time: "now",
      targeting: { where: { attribute: "cohort", op: "eq", value: "lang" } },
      messages: [
        { language: "en", title: "Hello", body: "en" },
        { language: "FR", title: "Bonjour", body: "fr" },
        { title: "Hi", body: "neutral" },
      ],
    });
    await untilSent(p, token);
    const [f, d, n] = await pushesOf([fr, de, none]);
    expect(f?.map((x) => x.payload?.title)).toEqual(["Bonjour"]);
    expect(d?.map((x) => x.payload?.title)).toEqual(["Hi"]);
    expect(n?.map((x) => x.payload?.title)).toEqual(["Hi"]);
    // Without a neutral message, the first.
    const first = await createCampaign(p, {
      name: "No neutral",
      live: true,
      push_time: "now",
      targeting: { where: { attribute: "cohort", op: "eq", value: "lang" } },
      messages: [
        { language: "en", title: "Hello", body: "en" },
        { language: "fr", title: "Bonjour", body: "fr" },
      ],
    });
    await untilSent(p, first);
    const [f2, d2] = await pushesOf([fr, de]);
    expect(f2?.map((x) => x.payload?.title)).toEqual(["Bonjour", "Bonjour"]);
    expect(d2?.map((x) => x.payload?.title)).toEqual(["Hi", "Hello"]);
  });

  it("never targets an orphan: a device's anonymous profile left behind by a login", async () => {
    const p = await campaignProject();
    const owner = await person(p, { customId: "signed-in" });
    const device = await person(p, { attrs: { wave: "orphan" } });
    await batch(p, device.installationId, [identify("signed-in")]);
    await projected(p, [owner, device], ["signed-in"]);
    const orphans = await (await shardDb(p.projectId))
      .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ? AND state = 'orphaned'")
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(orphans?.n).toBe(1);
    const token = await createCampaign(p, {
      name: "Orphans",
      live: true,
      push_time: "now",
      targeting: { where: { attribute: "wave", op: "eq", value: "orphan" } },
      messages: hello,
    });
    expect((await untilSent(p, token)).stats).toMatchObject({ targeted: 0, sent: 0 });
    expect((await pushesOf([device]))[0]).toHaveLength(0);
  });

  it("counts opens reported by the SDK with the campaign's token", async () => {
    const token = await createCampaign(project, {
      name: "Opened",
      live: true,
      push_time: "now",
      targeting: { where: { has_custom_id: false } },
      messages: hello,
    });
    await untilSent(project, token);
    const opened = { id: opId(), type: "push_opened", campaign_token: token };
    await batch(project, anon.installationId, [opened]);
    // Reported twice (a retrying SDK): one open.
    await batch(project, anon.installationId, [{ ...opened, id: opId() }]);
    await vi.waitFor(async () => expect((await readCampaign(project, token)).stats.opened).toBe(1), {
      timeout: 20_000,
      interval: 200,
    });
  });

  it("lists the project's campaigns, newest first, a page at a time", async () => {
    const p = await campaignProject();
    const tokens = [];
    for (const name of ["one", "two", "three"]) {
      tokens.push(await createCampaign(p, { name, live: false, push_time: "now", messages: hello }));
    }
    const first = await call("GET", "/v1/campaigns?limit=2", { headers: restHeaders(p) });
    expect(first.status).toBe(200);
    const page1 = await first.json<{ campaigns: { name: string; state: string }[]; next_cursor: string | null }>();
    expect(page1.campaigns.map((c) => c.name)).toEqual(["three", "two"]);
    expect(page1.campaigns[0]?.state).toBe("draft");
    const second = await call("GET", `/v1/campaigns?limit=2&cursor=${page1.next_cursor}`, { headers: restHeaders(p) });
    const page2 = await second.json<{ campaigns: { name: string }[]; next_cursor: string | null }>();
    expect(page2.campaigns.map((c) => c.name)).toEqual(["one"]);
    expect(page2.next_cursor).toBeNull();
  });
});

describe("templates", () => {
  it("a transactional send with template_id and no message uses the campaign's content; fields given override it", async () => {
    const draft = await createCampaign(project, {
      name: "Template",
      live: false,
      push_time: "now",
      messages: [
        { language: "fr", title: "Commande", body: "Expédiée" },
        { title: "Order", body: "Shipped", deeplink: "https://shop.example/orders" },
      ],
    });
    const before = (await pushesOf([carol]))[0]?.length ?? 0;
    const res = await send(project, { group_id: "orders", recipients: { custom_ids: ["carol"] }, template_id: draft });
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ sent: 1 });
    const overridden = await send(project, {
      group_id: "orders",
      recipients: { custom_ids: ["carol"] },
      template_id: draft,
      message: { title: "Your order #12" },
    });
    expect(overridden.status).toBe(201);
    await untilDone(project, (await overridden.json<{ token: string }>()).token);
    const pushes = ((await pushesOf([carol]))[0] ?? []).slice(before);
    expect(pushes.map((p) => p.payload)).toEqual([
      { title: "Order", body: "Shipped", deeplink: "https://shop.example/orders", transactional_token: token },
      expect.objectContaining({ title: "Your order #12", body: "Shipped" }),
    ]);
    // The draft itself sent nothing.
    expect((await readCampaign(project, draft)).state).toBe("draft");
  });

  it("refuses an unknown template, another project's, and a send with neither message nor template", async () => {
    const other = await campaignProject();
    const theirs = await createCampaign(other, { name: "T", live: false, push_time: "now", messages: hello });
    for (const body of [
      { group_id: "g", recipients: { custom_ids: ["carol"] }, template_id: crypto.randomUUID() },
      { group_id: "g", recipients: { custom_ids: ["carol"] }, template_id: theirs },
      { group_id: "g", recipients: { custom_ids: ["carol"] } },
      { group_id: "g", recipients: { custom_ids: ["carol"] }, message: { title: "only a title" } },
    ]) {
      const res = await send(project, body);
      expect(res.status).toBe(400);
      const error = (await res.json<{ error: { code: string; issues: { path: string }[] } }>()).error;
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.issues[0]?.path).toMatch(/^(template_id|message)$/);
    }
  });
});
