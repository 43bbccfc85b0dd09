// Batch's documented example requests, sent by a client that knows only Batch's contract, to
// edge-cdp under `npm run dev`. Each answer is checked as a Batch client reads it, then what it
// did is read back through edge-cdp's own API.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { BatchClient } from "./batch-client.mjs";

const dev = inject("dev");
const client = new BatchClient({
  base: dev.BASE,
  apiKey: dev.SDK_KEY,
  restKey: dev.REST_KEY,
  projectKey: dev.PROJECT_ID,
});
const run = crypto.randomUUID().slice(0, 8);
const user = (name) => `${name}-${run}`;

/** edge-cdp's own view of a profile, to see what a Batch call did. */
async function profile(customId) {
  const res = await fetch(`${dev.BASE}/v1/profiles?custom_id=${encodeURIComponent(customId)}`, {
    headers: { Authorization: `Bearer ${dev.REST_KEY}`, "X-Project-Id": dev.PROJECT_ID },
  });
  return res.status === 200 ? res.json() : null;
}

async function eventually(read, accept, what) {
  for (let i = 0; i < 100; i++) {
    const value = await read();
    if (accept(value)) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`never: ${what}`);
}

beforeAll(async () => {
  expect((await fetch(`${dev.BASE}/health`)).status).toBe(200);
});

describe("Batch's documented examples against `npm run dev`", () => {
  it("Custom Data API: set or update one user", async () => {
    const res = await client.setCustomData(user("john"), {
      overwrite: false,
      values: {
        "u.nickname": "The Rock",
        "u.force": 42,
        "date(u.last_subscription)": "2016-01-04T00:00:00",
        "url(u.avatar)": "https://example.com/avatar.png",
        "ut.interests": ["sports", "cars"],
      },
    });
    expect(res).toEqual({ status: 202, body: { token: expect.any(String) } });
    const p = await profile(user("john"));
    expect(p.attributes.nickname.value).toBe("The Rock");
    expect(p.attributes.force.value).toBe(42);
    expect(p.attributes.last_subscription).toMatchObject({ value: "2016-01-04T00:00:00.000Z", type: "date" });
    expect(p.attributes.avatar).toMatchObject({ type: "url" });
    expect(p.attributes.interests.value).toEqual(["sports", "cars"]);
  });

  it("Custom Data API: bulk update, then remove a user's data", async () => {
    const res = await client.setCustomDataBulk([
      {
        id: user("bulk-1"),
        update: { overwrite: false, values: { "u.plan": "premium", "ut.interests": { $add: ["tv"] } } },
      },
      { id: user("bulk-2"), update: { overwrite: true, values: { "u.plan": "free" } } },
    ]);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ token: expect.any(String), request_id: expect.any(String) });
    const p = await eventually(
      () => profile(user("bulk-2")),
      (b) => b?.attributes.plan?.value === "free",
      "bulk applied",
    );
    expect(p.custom_id).toBe(user("bulk-2"));
    const removed = await client.deleteCustomData(user("bulk-2"));
    expect(removed).toEqual({ status: 200, body: { token: expect.any(String) } });
    expect((await profile(user("bulk-2"))).attributes.plan).toBeUndefined();
  });

  it("Trigger Events API: one user's events, and bulk", async () => {
    const time = new Date(Date.now() - 3600_000).toISOString();
    const one = await client.trackEvents(user("shopper"), {
      events: [
        {
          name: "ue.added_to_cart",
          time,
          label: "summer_sale",
          tags: ["bags", "accessories"],
          attributes: { sub_category: "bags", size: "M", "date(arrival_date)": "2016-07-10T00:00:00" },
        },
        { name: "ue.validated_purchase" },
      ],
    });
    expect(one).toEqual({ status: 202, body: { token: expect.any(String) } });
    const bulk = await client.trackEventsBulk([
      { id: user("shopper"), events: [{ name: "ue.viewed_item", attributes: { item_id: "abc" } }] },
      { id: user("other-shopper"), events: [{ name: "ue.viewed_item" }] },
    ]);
    expect(bulk.status).toBe(202);
    const p = await eventually(
      () => profile(user("shopper")),
      (b) => (b?.events ?? []).length >= 3,
      "the events on the profile",
    );
    expect(p.events.map((e) => e.name).sort()).toEqual(["added_to_cart", "validated_purchase", "viewed_item"]);
  });

  it("Transactional API 1.1: a send is accepted with a token", async () => {
    const res = await client.sendTransactional({
      group_id: "welcome",
      recipients: { custom_ids: [user("john")] },
      message: { title: "Hello!", body: "How's it going?" },
    });
    expect(res).toEqual({ status: 201, body: { token: expect.any(String) } });
  });

  it("Audience API 2.0: create, update, view until APPLIED, list", async () => {
    const name = `vip_${run}`;
    expect((await client.audience("create", { name, type: "custom_ids", display_name: "VIP" })).status).toBe(202);
    const update = await client.audience("update", {
      name,
      ids: [
        { action: "add", id: user("john") },
        { action: "add", id: user("jane") },
      ],
    });
    expect(update.status).toBe(202);
    const token = update.body.indexing_token;
    const view = await eventually(
      () => client.audience(`view?name=${name}&indexing_token=${token}`),
      (r) => r.body?.indexing_state === "APPLIED",
      "APPLIED",
    );
    expect(view.body).toMatchObject({ name, display_name: "VIP", type: "custom_ids", nb_ids: 2 });
    const list = await client.audience("list?limit=50");
    expect(list.body.audiences.map((a) => a.name)).toContain(name);
  });

  it("a wrong key is 401 with Batch's code 10, as Batch's clients expect", async () => {
    const stranger = new BatchClient({ ...client, restKey: `${dev.REST_KEY}x` });
    const res = await stranger.setCustomData(user("nobody"), { values: { "u.x": 1 } });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "UNAUTHORIZED", batch_code: 10 });
    expect(await profile(user("nobody"))).toBeNull();
  });
});
