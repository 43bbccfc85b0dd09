import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createProject, type Project } from "../support/harness";
import { profileBy } from "../support/identity";
import { stagedEvents } from "../support/staged";
import { createWebhook, eventually, Receivers } from "../support/webhooks";
import { batchCall, credentialsOf } from "./support";

let p: Project;
beforeAll(async () => {
  p = await createProject();
});
let receivers: Receivers;
beforeEach(() => {
  receivers = new Receivers().install();
});
afterEach(() => receivers.restore());

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

interface ViewEvent {
  name: string;
  time: string;
  attributes: Record<string, unknown>;
  label: string | null;
  tags: string[];
}

describe("POST /1.0/{API_KEY}/events/users/{custom_id}", () => {
  it("lands Batch's documented event on the profile, in the staged history and at webhooks", async () => {
    const url = receivers.url();
    await createWebhook(p, url, ["event.added_to_cart"]);
    const time = minutesAgo(10);
    const res = await batchCall("POST", credentialsOf(p), "/events/users/ev-user", {
      body: {
        events: [
          {
            name: "ue.added_to_cart",
            time,
            label: "cart",
            tags: ["summer", "promo"],
            attributes: {
              sku: "X1",
              price: 12.5,
              "date(shipped)": "2026-01-02T03:04:05",
              "url(page)": "https://s.example/x",
            },
          },
        ],
      },
    });
    expect(res.status).toBe(202);
    expect(typeof (await res.json<{ token: string }>()).token).toBe("string");
    const view = (await profileBy(p, { custom_id: "ev-user" })).body;
    const events = (view?.events ?? []) as unknown as ViewEvent[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      name: "added_to_cart",
      time: new Date(time).toISOString(),
      label: "cart",
      tags: ["summer", "promo"],
      attributes: {
        sku: "X1",
        price: 12.5,
        "date(shipped)": "2026-01-02T03:04:05.000Z",
        "url(page)": "https://s.example/x",
      },
    });
    await eventually(async () => {
      const staged = (await stagedEvents(p.projectId)).filter((e) => e.profile_id === view?.profile_id);
      expect(staged.map((e) => e.name)).toEqual(["added_to_cart"]);
    });
    await eventually(() =>
      expect(receivers.itemsAt(url).map((i) => [i.topic, i.custom_id])).toEqual([["event.added_to_cart", "ev-user"]]),
    );
  });

  it("takes a name without ue., an event without time, and gives an unknown custom ID a profile", async () => {
    const res = await batchCall("POST", credentialsOf(p), "/events/users/ev-new/", {
      body: { events: [{ name: "opened" }] },
    });
    expect(res.status).toBe(202);
    expect((await profileBy(p, { custom_id: "ev-new" })).body?.events.map((e) => e.name)).toEqual(["opened"]);
  });

  it("takes 1,000 events of one user", async () => {
    const events = Array.from({ length: 1000 }, (_, k) => ({ name: `e_${k % 7}`, time: minutesAgo(1) }));
    const res = await batchCall("POST", credentialsOf(p), "/events/users/ev-many", { body: { events } });
    expect(res.status).toBe(202);
    const profileId = (await profileBy(p, { custom_id: "ev-many" })).body?.profile_id;
    await eventually(async () => {
      const staged = (await stagedEvents(p.projectId)).filter((e) => e.profile_id === profileId);
      expect(staged).toHaveLength(1000);
    }, 30_000);
  });
});

describe("POST /1.0/{API_KEY}/events/users (bulk)", () => {
  it("lands each user's events on its own profile", async () => {
    const res = await batchCall("POST", credentialsOf(p), "/events/users", {
      body: [
        { id: "bulk-ev-1", events: [{ name: "ue.a" }, { name: "ue.b" }] },
        { id: "bulk-ev-2", events: [{ name: "ue.c", time: minutesAgo(60) }] },
      ],
    });
    expect(res.status).toBe(202);
    const names = async (id: string) =>
      ((await profileBy(p, { custom_id: id })).body?.events ?? []).map((e) => e.name).sort();
    expect(await names("bulk-ev-1")).toEqual(["a", "b"]);
    expect(await names("bulk-ev-2")).toEqual(["c"]);
  });
});
