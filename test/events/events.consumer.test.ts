import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { handle } from "../../src/events/events.consumer";
import { eraseD1 } from "../../src/privacy/erase-d1";
import { EVENTS_DLQ, EVENTS_QUEUE } from "../../src/queue/consumer";
import type { EventBundle, EventsMessage } from "../../src/queue/messages";
import { createProject } from "../support/harness";
import { batch } from "../support/identity";
import { deadLetter, deliverTo } from "../support/queues";
import { shardDb } from "../support/shards";
import { stagedEvents } from "../support/staged";

/** The profiles holding a staged event with this ID (staged in R2, see src/exports/staging.ts). */
async function landed(projectId: string, eventId: string) {
  return (await stagedEvents(projectId))
    .filter((e) => e.id === eventId)
    .map((e) => e.profile_id)
    .sort();
}

describe("the events consumer", () => {
  it("stages two profiles' events that share an op id as two events", async () => {
    const p = await createProject();
    const first = await batch(p, crypto.randomUUID(), [{ id: "3", type: "event", name: "opened", attributes: {} }]);
    const second = await batch(p, crypto.randomUUID(), [{ id: "3", type: "event", name: "opened", attributes: {} }]);
    expect(first.profile_id).not.toBe(second.profile_id);
    await vi.waitFor(
      async () => expect(await landed(p.projectId, "3")).toEqual([first.profile_id, second.profile_id].sort()),
      { timeout: 20_000, interval: 100 },
    );
  });
});

function eventsMessage(projectId: string, eventId: string, name: string | null): EventsMessage {
  return {
    type: "events",
    project_id: projectId,
    profile_id: crypto.randomUUID(),
    custom_id: null,
    installation_id: crypto.randomUUID(),
    app_id: null,
    received_at: new Date().toISOString(),
    // A null name stands for a poison message: its time is no date, so staging fails on every delivery.
    events: [
      {
        id: eventId,
        name: name ?? "poison",
        time: name === null ? "not a time" : new Date().toISOString(),
        attributes: {},
        label: null,
        tags: [],
        source: "api",
      },
    ],
  };
}

describe("the events consumer's retries and dead letters", () => {
  it("stages the good messages of a batch and retries only the one that fails", async () => {
    const p = await createProject();
    const good = `good-${crypto.randomUUID()}`;
    const result = await deliverTo(EVENTS_QUEUE, [
      eventsMessage(p.projectId, good, "ok"),
      eventsMessage(p.projectId, "bad", null),
    ]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([{ msgId: "m1" }]);
    expect(await landed(p.projectId, good)).toHaveLength(1);
  });

  it("stages a dead-lettered message once more, and records one that still fails with its body", async () => {
    const p = await createProject();
    const good = `good-${crypto.randomUUID()}`;
    const poison = eventsMessage(p.projectId, "bad", null);
    const prefix = `dlq-${good}-`;
    const result = await deliverTo(EVENTS_DLQ, [eventsMessage(p.projectId, good, "ok"), poison], { prefix });
    expect(result.explicitAcks.sort()).toEqual([`${prefix}0`, `${prefix}1`]);
    expect(await landed(p.projectId, good)).toHaveLength(1);
    expect(await deadLetter(EVENTS_DLQ, `${prefix}0`)).toMatchObject({ outcome: "replayed", project_id: p.projectId });
    const kept = await deadLetter(EVENTS_DLQ, `${prefix}1`);
    expect(kept).toMatchObject({ outcome: "recorded", project_id: p.projectId });
    expect(JSON.parse(kept?.body ?? "null")).toEqual(poison);
  });
});

describe("a bundle of event queue messages (one outbox flush)", () => {
  it("stages the events of every message it carries", async () => {
    const p = await createProject();
    const [a, b] = [`a-${crypto.randomUUID()}`, `b-${crypto.randomUUID()}`];
    const bundle: EventBundle = {
      type: "bundle",
      messages: [eventsMessage(p.projectId, a, "opened"), eventsMessage(p.projectId, b, "opened")],
    };
    const result = await deliverTo(EVENTS_QUEUE, [bundle]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await landed(p.projectId, a)).toHaveLength(1);
    expect(await landed(p.projectId, b)).toHaveLength(1);
  });

  it("is retried whole when one of its messages fails, and recorded whole when dead-lettered", async () => {
    const p = await createProject();
    const bundle: EventBundle = {
      type: "bundle",
      messages: [
        eventsMessage(p.projectId, `ok-${crypto.randomUUID()}`, "opened"),
        eventsMessage(p.projectId, "bad", null),
      ],
    };
    const result = await deliverTo(EVENTS_QUEUE, [bundle]);
    expect(result.retryMessages).toEqual([{ msgId: "m0" }]);
    const prefix = `dlq-bundle-${crypto.randomUUID()}-`;
    await deliverTo(EVENTS_DLQ, [bundle], { prefix });
    const kept = await deadLetter(EVENTS_DLQ, `${prefix}0`);
    expect(kept).toMatchObject({ outcome: "recorded" });
    expect(JSON.parse(kept?.body ?? "null")).toEqual(bundle);
  });
});

describe("a bundle carrying projection changes (a flush that owed both queues)", () => {
  it("projects them, with its events staged", async () => {
    const p = await createProject();
    const installation = crypto.randomUUID();
    await batch(p, installation, [{ id: "o1", type: "push_optin", opted_in: true }]);
    const db = await shardDb(p.projectId);
    const row = () =>
      db
        .prepare("SELECT push_optin FROM installations WHERE project_id = ? AND installation_id = ?")
        .bind(p.projectId, installation)
        .first<{ push_optin: number }>();
    await vi.waitFor(async () => expect(await row()).toEqual({ push_optin: 1 }), { timeout: 10_000 });
    // Gone from D1, as if never projected: only the carried change can bring it back.
    await db
      .prepare("DELETE FROM installations WHERE project_id = ? AND installation_id = ?")
      .bind(p.projectId, installation)
      .run();
    const id = `carried-${crypto.randomUUID()}`;
    const bundle: EventBundle = {
      type: "bundle",
      messages: [eventsMessage(p.projectId, id, "opened")],
      projection: [{ type: "installation_changed", project_id: p.projectId, installation_id: installation }],
    };
    const result = await deliverTo(EVENTS_QUEUE, [bundle]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await row()).toEqual({ push_optin: 1 });
    expect(await landed(p.projectId, id)).toHaveLength(1);
  });

  it("hands a change it cannot project to the projection queue, and takes the rest", async () => {
    const p = await createProject();
    const id = `ok-${crypto.randomUUID()}`;
    // No holder: no object to read it from, on this queue or on the projection queue.
    const unreadable = { type: "profile_changed", project_id: p.projectId, profile_id: "nowhere" };
    const bundle = {
      type: "bundle",
      messages: [eventsMessage(p.projectId, id, "opened")],
      projection: [unreadable],
    } as unknown as EventBundle;
    const sent = vi.spyOn(env.PROJECTION, "sendBatch");
    try {
      const result = await deliverTo(EVENTS_QUEUE, [bundle]);
      expect(result.explicitAcks).toEqual(["m0"]);
      expect(sent.mock.calls.map(([messages]) => [...messages].map((m) => m.body))).toEqual([[unreadable]]);
    } finally {
      sent.mockRestore();
    }
    expect(await landed(p.projectId, id)).toHaveLength(1);
  });
});

describe("events of a profile removed while the batch was being staged", () => {
  it("are taken out of every object the batch wrote, however much history the project has", async () => {
    const p = await createProject();
    // More staged objects than one page of a scan, all sorting before the batch's own.
    await Promise.all(
      Array.from({ length: 210 }, (_, k) =>
        env.EXPORTS.put(`events/${p.projectId}/_/2020-01-01/00/filler-${String(k).padStart(3, "0")}.ndjson`, ""),
      ),
    );
    const gone = eventsMessage(p.projectId, "late-1", "opened");
    const goneElsewhere: EventsMessage = {
      ...gone,
      app_id: p.appId,
      events: gone.events.map((e) => ({ ...e, id: "late-2" })),
    };
    const kept = eventsMessage(p.projectId, "kept-1", "opened");
    await handle(env, [gone, goneElsewhere, kept], {
      // The removal tombstones the profile after the batch's first check, and its sweep ran before the objects landed.
      beforeStaging: () =>
        eraseD1(
          env,
          { projectId: p.projectId, profileIds: [gone.profile_id], installationIds: [], customId: null },
          new Date().toISOString(),
        ),
    });
    const staged = await stagedEvents(p.projectId);
    expect(staged.filter((e) => e.profile_id === gone.profile_id)).toEqual([]);
    expect(staged.filter((e) => e.profile_id === kept.profile_id).map((e) => e.id)).toEqual(["kept-1"]);
  });

  it("takes a removed profile's events out of what an attempt that failed after staging wrote", async () => {
    const p = await createProject();
    const gone = eventsMessage(p.projectId, "stranded-1", "opened");
    const kept = eventsMessage(p.projectId, "kept-2", "opened");
    // The removal tombstones the profile after the first check, its sweep passes before the
    // objects land, and the step that would take them out fails.
    await expect(
      handle(env, [gone, kept], {
        beforeStaging: () =>
          eraseD1(
            env,
            { projectId: p.projectId, profileIds: [gone.profile_id], installationIds: [], customId: null },
            new Date().toISOString(),
          ),
        afterStaging: () => Promise.reject(new Error("D1 unavailable")),
      }),
    ).rejects.toThrow("D1 unavailable");
    // The queue retries each message alone, under other keys.
    await handle(env, [gone]);
    await handle(env, [kept]);
    const staged = await stagedEvents(p.projectId);
    expect(staged.filter((e) => e.profile_id === gone.profile_id)).toEqual([]);
    expect(new Set(staged.filter((e) => e.profile_id === kept.profile_id).map((e) => e.id))).toEqual(
      new Set(["kept-2"]),
    );
  });
});
