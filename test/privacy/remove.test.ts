import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { findStagedEvents, stageEvents } from "../../src/exports/staging";
import worker from "../../src/index";
import { PRIVACY_QUEUE } from "../../src/privacy/messages";
import { removeProfile } from "../../src/privacy/remove";
import { stagedPaging } from "../../src/privacy/staged-erasure";
import { EVENTS_QUEUE, PROJECTION_QUEUE } from "../../src/queue/consumer";
import type { EventsMessage, ProjectionMessage } from "../../src/queue/messages";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, event, identify, installationStub, logout, profileBy, querySql } from "../support/identity";
import { shardDb } from "../support/shards";
import { run, settled, submit } from "./support";

async function deliver<T>(queue: string, bodies: T[]) {
  const batchOf = createMessageBatch<T>(
    queue,
    bodies.map((body, k) => ({ id: `late-${k}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batchOf as MessageBatch<unknown>, env, ctx);
  return getQueueResult(batchOf, ctx);
}

async function d1Count(table: string, projectId: string, where = "1 = 1", ...params: unknown[]): Promise<number> {
  const row = await (await shardDb(projectId))
    .prepare(`SELECT count(*) AS n FROM ${table} WHERE project_id = ? AND ${where}`)
    .bind(projectId, ...params)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** The profile's events staged in R2, where event history lives. */
async function stagedCount(projectId: string, profileId: string): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const scan = await findStagedEvents(env, projectId, profileId, { cursor });
    n += scan.found.length;
    cursor = scan.cursor ?? undefined;
  } while (cursor);
  return n;
}

async function segmentIds(p: Project, where: unknown): Promise<string[]> {
  const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where } });
  expect(res.status).toBe(200);
  return (await res.json<{ profiles: { profile_id: string }[] }>()).profiles.map((x) => x.profile_id);
}

async function audience(p: Project, name: string, type: string, ids: string[]) {
  expect((await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type } })).status).toBe(201);
  expect((await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } })).status).toBe(200);
}

async function audienceSize(p: Project, name: string): Promise<number> {
  const res = await call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) });
  return (await res.json<{ size: number }>()).size;
}

/** Waits until D1 shows the profile, with its installation and its landed events. */
async function projected(p: Project, profileId: string, installationId: string, events: number) {
  await vi.waitFor(
    async () => {
      expect(await d1Count("profiles", p.projectId, "profile_id = ? AND state = 'active'", profileId)).toBe(1);
      expect(await d1Count("installations", p.projectId, "installation_id = ?", installationId)).toBe(1);
      expect(await stagedCount(p.projectId, profileId)).toBe(events);
      expect(await d1Count("profile_attributes", p.projectId, "profile_id = ?", profileId)).toBeGreaterThan(0);
    },
    { timeout: 20_000, interval: 100 },
  );
}

describe("privacy remove by custom ID", () => {
  it("deletes the profile everywhere, frees its identifiers, and nothing late brings it back", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [
      identify("erase-me"),
      attributes({ tier: "gold", $email_address: "erase@example.com" }),
      event("purchase", { sku: "X1" }),
    ]);
    const profileId = signedIn.profile_id;
    await projected(p, profileId, device, 1);
    await audience(p, "vips", "custom_ids", ["erase-me", "someone-else"]);
    await audience(p, "devices", "installation_ids", [device]);
    expect(await segmentIds(p, { attribute: "tier", op: "eq", value: "gold" })).toEqual([profileId]);
    const profileBefore = await installationStub(p.projectId, device).describe();

    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "erase-me" } });
    expect(done.status).toBe("done");
    expect(done.error).toBeUndefined();
    const receipt = done.receipt;
    if (!receipt) throw new Error("no receipt");
    expect(receipt.profile_id).toBe(profileId);
    expect(receipt.installation_ids).toEqual([device]);
    expect(receipt.custom_id_freed).toBe(true);
    expect(receipt.steps.map((s) => s.step)).toEqual(["custom_id_object", `installation_object:${device}`, "d1", "r2"]);
    expect(receipt.totals).toMatchObject({
      "custom_id_object.profiles": 1,
      "custom_id_object.attributes": 2,
      "custom_id_object.events": 1,
      "custom_id_object.members": 1,
      "installation_object.installation": 1,
      "d1.profiles": 1,
      "d1.profile_attributes": 2,
      "d1.installations": 1,
      "d1.audience_members": 2,
      "r2.events": 1,
    });
    for (const s of receipt.steps) expect(Number.isNaN(Date.parse(s.at))).toBe(false);

    // Gone from the API, the objects and D1; a tombstone stays.
    expect((await profileBy(p, { custom_id: "erase-me" })).status).toBe(404);
    expect((await profileBy(p, { installation_id: device })).status).toBe(404);
    expect((await profileBy(p, { profile_id: profileId })).status).toBe(404);
    expect(await querySql(installationStub(p.projectId, device), "SELECT * FROM installation")).toEqual([]);
    const tombstone = await (await shardDb(p.projectId))
      .prepare("SELECT custom_id, state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, profileId)
      .first();
    expect(tombstone).toEqual({ custom_id: null, state: "removed" });
    expect(await d1Count("profile_attributes", p.projectId, "profile_id = ?", profileId)).toBe(0);
    expect(await d1Count("installations", p.projectId, "installation_id = ?", device)).toBe(0);
    expect(await stagedCount(p.projectId, profileId)).toBe(0);
    expect(await audienceSize(p, "vips")).toBe(1);
    expect(await audienceSize(p, "devices")).toBe(0);
    expect(await segmentIds(p, { attribute: "tier", op: "eq", value: "gold" })).toEqual([]);

    // Late messages: the projection of the profile and its installation, and its events.
    const late = await deliver<ProjectionMessage>(PROJECTION_QUEUE, [
      {
        type: "profile_changed",
        project_id: p.projectId,
        profile_id: profileId,
        holder: { projectId: p.projectId, kind: "custom_id", id: "erase-me" },
      },
      { type: "installation_changed", project_id: p.projectId, installation_id: device },
    ]);
    expect(late.explicitAcks.length).toBe(2);
    const lateEvent: EventsMessage = {
      type: "events",
      project_id: p.projectId,
      profile_id: profileId,
      custom_id: "erase-me",
      installation_id: device,
      app_id: p.appId,
      received_at: new Date().toISOString(),
      events: [
        {
          id: "late-1",
          name: "purchase",
          time: new Date().toISOString(),
          attributes: {},
          label: null,
          tags: [],
          source: "sdk",
        },
      ],
    };
    await deliver<EventsMessage>(EVENTS_QUEUE, [lateEvent]);
    expect(await stagedCount(p.projectId, profileId)).toBe(0);
    expect(await d1Count("profiles", p.projectId, "profile_id = ? AND state <> 'removed'", profileId)).toBe(0);
    expect(await segmentIds(p, { has_custom_id: true })).toEqual([]);

    // The freed installation comes back: a new anonymous profile with no trace of the old one.
    const back = await batch(p, device, [attributes({ colour: "blue" })]);
    expect(back.profile_id).not.toBe(profileId);
    expect(back.custom_id).toBeNull();
    const view = (await profileBy(p, { installation_id: device })).body;
    expect(view?.custom_id).toBeNull();
    expect(Object.keys(view?.attributes ?? {})).toEqual(["colour"]);
    expect(view?.events).toEqual([]);
    expect(view?.identity_history.map((h) => h.kind)).toEqual(["created"]);
    expect(JSON.stringify(view)).not.toContain("erase-me");
    expect(profileBefore?.binding.profileId).toBe(profileId);
    // The freed custom ID is unknown again.
    expect((await profileBy(p, { custom_id: "erase-me" })).status).toBe(404);
  });
});

describe("a removed profile's array items", () => {
  it("leave D1 with its attributes", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("with-tags"), attributes({ tags: ["red", "blue"] })]);
    await vi.waitFor(
      async () =>
        expect(await d1Count("profile_attribute_items", p.projectId, "profile_id = ?", signedIn.profile_id)).toBe(2),
      { timeout: 20_000, interval: 100 },
    );
    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "with-tags" } });
    expect(done.status).toBe("done");
    expect(await d1Count("profile_attribute_items", p.projectId, "profile_id = ?", signedIn.profile_id)).toBe(0);
    expect(await segmentIds(p, { attribute: "tags", op: "contains", value: "red" })).toEqual([]);
  });
});

describe("privacy remove by installation ID", () => {
  it("deletes an anonymous profile and the orphans its installation kept", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    // An existing custom ID profile, so the device's login orphans its anonymous profile.
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "kept-user" }, attributes: { plan: "pro" } }],
    });
    const first = await batch(p, device, [attributes({ step: 1 })]);
    await batch(p, device, [identify("kept-user")]);
    const again = await batch(p, device, [logout(), attributes({ step: 2 })]);
    expect(again.custom_id).toBeNull();

    const done = await run(p, { type: "remove", identifier: { type: "installation_id", value: device } });
    expect(done.status).toBe("done");
    expect(done.receipt?.profile_id).toBe(again.profile_id);
    expect(done.receipt?.profile_ids.sort()).toEqual([first.profile_id, again.profile_id].sort());
    expect(done.receipt?.custom_id_freed).toBe(false);
    expect((await profileBy(p, { installation_id: device })).status).toBe(404);
    expect(await querySql(installationStub(p.projectId, device), "SELECT profile_id FROM profiles")).toEqual([]);
    // The signed-in profile the device used to log in to is someone else's: it stays.
    const kept = await profileBy(p, { custom_id: "kept-user" });
    expect(kept.status).toBe(200);
    expect(kept.body?.attributes.plan?.value).toBe("pro");
  });
});

describe("a retried remove", () => {
  it("neither deletes twice nor loses the receipt", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ a: 1 }), event("opened")]);
    await projected(p, anon.profile_id, device, 1);
    const requestId = crypto.randomUUID();
    const first = await removeProfile(
      env,
      p.projectId,
      { kind: "installation", installationId: device },
      { requestId, at: "2026-01-01T00:00:00.000Z", anonymousOnly: true },
    );
    if (first.removed !== true) throw new Error("not removed");
    // The device comes back before the retry runs: the retry must not touch its new profile.
    const back = await batch(p, device, [attributes({ b: 2 })]);
    const second = await removeProfile(
      env,
      p.projectId,
      { kind: "installation", installationId: device },
      { requestId, at: "2026-01-02T00:00:00.000Z", anonymousOnly: true },
    );
    expect(second).toEqual(first);
    expect(first.receipt.totals["r2.events"]).toBe(1);
    const view = await profileBy(p, { installation_id: device });
    expect(view.body?.profile_id).toBe(back.profile_id);
    expect(view.body?.attributes.b?.value).toBe(2);
  });

  it("a request whose message is delivered again after it finished keeps its receipt", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    await batch(p, device, [attributes({ a: 1 })]);
    const id = await submit(p, { type: "remove", identifier: { type: "installation_id", value: device } });
    const done = await settled(p, id);
    // As if the consumer died after the objects were erased but before it recorded the end.
    await env.DB.prepare("UPDATE privacy_requests SET status = 'pending', receipt = NULL WHERE id = ?").bind(id).run();
    await deliver(PRIVACY_QUEUE, [{ type: "privacy_request", project_id: p.projectId, request_id: id }]);
    const again = await settled(p, id);
    expect(again.status).toBe("done");
    expect(again.receipt).toEqual(done.receipt);
  });
});

describe("a remove with much staged history", () => {
  it("deletes the staged events over several messages and counts them all in the receipt", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("long-history")]);
    const staged = (hour: number): EventsMessage => ({
      type: "events",
      project_id: p.projectId,
      profile_id: signedIn.profile_id,
      custom_id: "long-history",
      installation_id: device,
      app_id: p.appId,
      received_at: "2026-11-01T00:00:00.000Z",
      events: [
        {
          id: `old-${hour}`,
          name: "played",
          time: `2026-11-01T${String(hour).padStart(2, "0")}:30:00.000Z`,
          attributes: {},
          label: null,
          tags: [],
          source: "sdk",
        },
      ],
    });
    // One object per hour: three objects, read one per message below.
    await stageEvents(env, [staged(1), staged(2), staged(3)]);
    expect(await stagedCount(p.projectId, signedIn.profile_id)).toBe(3);

    const paging = { ...stagedPaging };
    Object.assign(stagedPaging, { pages: 1, objects: 1 });
    try {
      const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "long-history" } });
      expect(done.status).toBe("done");
      expect(done.receipt?.totals["r2.events"]).toBe(3);
      expect(done.receipt?.steps.at(-1)).toMatchObject({ step: "r2", where: "r2", rows: { events: 3 } });
      expect(JSON.stringify(done.receipt)).not.toContain("next");
    } finally {
      Object.assign(stagedPaging, paging);
    }
    expect(await stagedCount(p.projectId, signedIn.profile_id)).toBe(0);
  });
});
