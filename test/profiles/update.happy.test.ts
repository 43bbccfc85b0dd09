import { describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, identify, profileBy } from "../support/identity";
import { waitForStaged } from "../support/staged";

function update(p: Project, operations: unknown, path = "/v1/profiles/update", headers = restHeaders(p)) {
  return call("POST", path, { headers, body: operations });
}

/** The payload Segment's Batch destination sends for an identify and a track call. */
const segmentPayload = (customId: string) => [
  {
    identifiers: { custom_id: customId },
    attributes: {
      $email_address: "ada@example.com",
      $email_marketing: "subscribed",
      $sms_marketing: "unsubscribed",
      $phone_number: "+33612345678",
      $language: "fr",
      $region: "FR",
      $timezone: "Europe/Paris",
      first_name: "Ada",
      age: 36,
      premium: true,
      interests: ["maths", "engines"],
      "date(last_purchase_date)": "2026-11-20T15:00:00Z",
      "url(avatar)": "https://cdn.example.com/ada.png",
    },
    events: [
      {
        name: "validated_purchase",
        time: new Date(Date.now() - 60_000).toISOString(),
        attributes: {
          $label: "checkout",
          $tags: ["web", "promo"],
          total: 42.5,
          delivery_address: { number: 43, street: "Rue Beaubourg", city: "Paris" },
          items_list: [
            { sku: "X1", qty: 2, price: 10.25 },
            { sku: "Y2", qty: 1, price: 22 },
          ],
          "date(shipped)": "2026-11-21T08:00:00Z",
        },
      },
    ],
  },
];

describe("POST /v1/profiles/update: Batch-compatible payloads", () => {
  it("applies a Segment-shaped payload before answering 202 SUCCESS", async () => {
    const p = await createProject();
    const res = await update(p, segmentPayload("ada"));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ code: "SUCCESS" });

    const { body } = await profileBy(p, { custom_id: "ada" });
    expect(body?.attributes).toMatchObject({
      $email_address: { value: "ada@example.com", source: "api" },
      $email_marketing: { value: "subscribed", source: "api" },
      $phone_number: { value: "+33612345678" },
      $language: { value: "fr" },
      first_name: { value: "Ada" },
      age: { value: 36 },
      premium: { value: true },
      interests: { value: ["maths", "engines"] },
      last_purchase_date: { value: "2026-11-20T15:00:00.000Z" },
      avatar: { value: "https://cdn.example.com/ada.png" },
    });
    const purchase = body?.events.find((e) => e.name === "validated_purchase") as Record<string, unknown> | undefined;
    expect(purchase).toMatchObject({
      label: "checkout",
      tags: ["web", "promo"],
      attributes: { total: 42.5, delivery_address: { city: "Paris" }, items_list: [{ sku: "X1" }, { sku: "Y2" }] },
    });
  });

  it("resets a native attribute with null, as Segment does for $email_marketing", async () => {
    const p = await createProject();
    await update(p, segmentPayload("ada"));
    const res = await update(p, [{ identifiers: { custom_id: "ada" }, attributes: { $email_marketing: null } }]);
    expect(res.status).toBe(202);
    const { body } = await profileBy(p, { custom_id: "ada" });
    expect(body?.attributes.$email_marketing).toBeUndefined();
    expect(body?.attributes.$email_address?.value).toBe("ada@example.com");
  });

  it.each(["/2.0/profiles/update", "/2.7/profiles/update"])("is served at %s with X-Batch-Project", async (path) => {
    const p = await createProject();
    const res = await update(p, [{ identifiers: { custom_id: "u1" }, attributes: { tier: "gold" } }], path, {
      Authorization: `Bearer ${p.restKey}`,
      "X-Batch-Project": p.projectId,
    });
    expect(res.status).toBe(202);
    expect((await profileBy(p, { custom_id: "u1" })).body?.attributes.tier?.value).toBe("gold");
  });

  it("creates the profile of an unknown custom ID; an installation that logs in later sees its data", async () => {
    const p = await createProject();
    await update(p, [{ identifiers: { custom_id: "crm-1" }, attributes: { tier: "gold" } }]);
    const created = await profileBy(p, { custom_id: "crm-1" });
    expect(created.body?.installations).toEqual([]);
    expect(created.body?.identity_history.map((h) => h.kind)).toEqual(["created_by_custom_id"]);

    const i = crypto.randomUUID();
    const answer = await batch(p, i, [identify("crm-1")]);
    expect(answer.profile_id).toBe(created.body?.profile_id);
    expect((await profileBy(p, { installation_id: i })).body?.attributes.tier).toMatchObject({
      value: "gold",
      source: "api",
    });
  });

  it("writes by installation ID to the profile the installation is on, anonymous or signed in", async () => {
    const p = await createProject();
    const anon = crypto.randomUUID();
    const signedIn = crypto.randomUUID();
    await batch(p, anon, []);
    await batch(p, signedIn, [identify("bob")]);
    const res = await update(p, [
      { identifiers: { installation_id: anon }, attributes: { seen: "anon" } },
      { identifiers: { installation_id: signedIn.toUpperCase() }, attributes: { seen: "bob" } },
    ]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    expect((await profileBy(p, { installation_id: anon })).body?.attributes.seen?.value).toBe("anon");
    expect((await profileBy(p, { custom_id: "bob" })).body?.attributes.seen?.value).toBe("bob");
  });

  it("applies several operations on one profile in order", async () => {
    const p = await createProject();
    await update(p, [
      { identifiers: { custom_id: "o" }, attributes: { colour: "red", list: ["a"] } },
      { identifiers: { custom_id: "o" }, attributes: { colour: "blue", list: { $add: ["b"] } } },
    ]);
    const { body } = await profileBy(p, { custom_id: "o" });
    expect(body?.attributes.colour?.value).toBe("blue");
    expect(body?.attributes.list?.value).toEqual(["a", "b"]);
  });

  it("stores API events, drops a repeated event ID, and publishes each once on the event queue", async () => {
    const p = await createProject();
    const op = { identifiers: { custom_id: "ev" }, events: [{ name: "renewed", id: "evt-1" }, { name: "renewed" }] };
    await update(p, [op]);
    await update(p, [op]);
    const { body } = await profileBy(p, { custom_id: "ev" });
    // evt-1 once; the event without an ID is a new event each time.
    expect(body?.events.filter((e) => e.id === "evt-1")).toHaveLength(1);
    expect(body?.events).toHaveLength(3);
    const staged = await waitForStaged(p.projectId, 3);
    expect(staged.filter((e) => e.source === "api")).toHaveLength(3);
  });
});
