import {
  abortAllDurableObjects,
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { AlarmClock } from "../../src/identity/alarm-clock";
import type { Outbox } from "../../src/identity/outbox";
import type { ProfileStore } from "../../src/identity/profile-store";
import type { DataOp } from "../../src/identity/profile-types";
import worker from "../../src/index";
import { EVENTS_QUEUE } from "../../src/queue/consumer";
import type { EventsMessage } from "../../src/queue/messages";
import { createProject, type Project } from "../support/harness";
import { attributes, batch, event, installationStub, profileBy } from "../support/identity";
import { shardDb } from "../support/shards";
import { stagedEvents } from "../support/staged";

const uuid = () => crypto.randomUUID();

async function landedEvents(projectId: string): Promise<string[]> {
  return (await stagedEvents(projectId)).map((e) => e.id).sort();
}

async function projectedProfile(projectId: string, profileId: string) {
  const row = await (await shardDb(projectId))
    .prepare("SELECT version FROM profiles WHERE project_id = ? AND profile_id = ?")
    .bind(projectId, profileId)
    .first<{ version: number }>();
  const tier = await (await shardDb(projectId))
    .prepare("SELECT value_text FROM profile_attributes WHERE project_id = ? AND profile_id = ? AND name = 'tier'")
    .bind(projectId, profileId)
    .first<{ value_text: string }>();
  return { version: row?.version ?? null, tier: tier?.value_text ?? null };
}

/** Waits until D1 holds exactly the events `ids` for the project (the event queue drained). */
async function waitForEvents(p: Project, ids: string[]) {
  await vi.waitFor(async () => expect(await landedEvents(p.projectId)).toEqual([...ids].sort()), {
    timeout: 10_000,
    interval: 100,
  });
}

describe("the alarm an object shares between purposes", () => {
  it("keeps the earliest time asked for, and arms again once it fired", async () => {
    const p = await createProject();
    await runInDurableObject(installationStub(p.projectId, uuid()), async (_object, state) => {
      const clock = new AlarmClock(state.storage);
      await state.storage.deleteAlarm();
      await clock.load();
      const now = Date.now();
      clock.armBy(now + 30_000, "outbox");
      clock.armBy(now + 5_000, "outbox");
      clock.armBy(now + 20_000, "outbox");
      expect(await state.storage.getAlarm()).toBe(now + 5_000);
      clock.fired();
      clock.armBy(now + 40_000, "outbox");
      expect(await state.storage.getAlarm()).toBe(now + 40_000);
    });
  });
});

describe("the outbox", () => {
  it("never publishes what a rolled-back transaction staged, and still publishes what committed", async () => {
    const p = await createProject();
    const i = uuid();
    const first = await batch(p, i, []);
    await expect(
      runInDurableObject(installationStub(p.projectId, i), (object) => {
        // biome-ignore lint/complexity/useLiteralKeys: reaching the private store is the point of this test.
        const store = object["store"] as ProfileStore;
        store.transaction(() => {
          store.enqueueEvents(
            first.profile_id,
            [
              {
                id: "phantom",
                name: "never",
                time: new Date().toISOString(),
                attributes: {},
                label: null,
                tags: [],
                source: "sdk",
              },
            ],
            { projectId: p.projectId, customId: null, installationId: i, appId: null, receivedAt: "" },
          );
          throw new Error("rolled back");
        });
      }),
    ).rejects.toThrow("rolled back");
    const real = event("real");
    await batch(p, i, [real]);
    await waitForEvents(p, [real.id as string]);
    // The phantom would travel with the same flush: give the queue time, then look again.
    await new Promise((r) => setTimeout(r, 300));
    expect(await landedEvents(p.projectId)).toEqual([real.id]);
  });

  it("deletes what it sent with the next write or the alarm, which then arms nothing", async () => {
    const p = await createProject();
    const i = uuid();
    const stub = installationStub(p.projectId, i);
    const outboxEvents = () =>
      runInDurableObject(stub, (_object, state) =>
        state.storage.sql
          .exec<{ messages: string }>("SELECT messages FROM commits WHERE messages <> ''")
          .toArray()
          .flatMap((r) => JSON.parse(r.messages) as [string, string | null, EventsMessage][])
          .flatMap(([queue, , message]) => (queue === "events" ? message.events.map((e) => e.id) : [])),
      );
    const first = event("first");
    await batch(p, i, [first]);
    await waitForEvents(p, [first.id as string]);
    const second = event("second");
    await batch(p, i, [second]);
    await waitForEvents(p, [first.id as string, second.id as string]);
    // The first row went with the second call's commit; the second goes with the alarm.
    expect(await outboxEvents()).toEqual([second.id]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await outboxEvents()).toEqual([]);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it("forgets, with a rolled-back transaction, the attribute values it wrote", async () => {
    const p = await createProject();
    const i = uuid();
    const first = await batch(p, i, [attributes({ tier: "gold" })]);
    const tier = await runInDurableObject(installationStub(p.projectId, i), (object) => {
      // biome-ignore lint/complexity/useLiteralKeys: reaching the private store is the point of this test.
      const store = object["store"] as ProfileStore;
      const ctx = {
        projectId: p.projectId,
        customId: null,
        installationId: i,
        appId: null,
        requestId: "r",
        receivedAt: "",
      };
      const write = (value: string, at: number): DataOp => ({
        type: "attributes",
        id: null,
        time: new Date(at).toISOString(),
        source: "api",
        writes: [{ name: "tier", kind: "set", type: "string", value }],
      });
      const now = Date.now();
      expect(() =>
        store.transaction(() => {
          store.applyData(
            first.profile_id,
            [write("silver", now + 60_000)],
            { ...ctx, receivedAt: new Date(now).toISOString() },
            now,
          );
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      // Later than gold, earlier than the silver that never was: it wins only if silver is forgotten.
      store.transaction(() =>
        store.applyData(
          first.profile_id,
          [write("bronze", now + 30_000)],
          { ...ctx, receivedAt: new Date(now).toISOString() },
          now,
        ),
      );
      return store.attributes(first.profile_id).find((a) => a.name === "tier")?.value;
    });
    expect(tier).toBe("bronze");
  });

  it("lands an event queue batch far larger than one D1 parameter, whole", async () => {
    const projectId = uuid();
    const padding = "x".repeat(50_000);
    const messages: EventsMessage[] = Array.from({ length: 40 }, (_, m) => ({
      type: "events",
      project_id: projectId,
      profile_id: `p-${m}`,
      custom_id: null,
      installation_id: `i-${m}`,
      app_id: null,
      received_at: new Date().toISOString(),
      events: Array.from({ length: 5 }, (_, e) => ({
        id: `e-${m}-${e}`,
        name: "big",
        time: new Date().toISOString(),
        attributes: { padding },
        label: null,
        tags: [],
        source: "sdk" as const,
      })),
    }));
    const batchOf = createMessageBatch<EventsMessage>(
      EVENTS_QUEUE,
      messages.map((body, k) => ({ id: `m${k}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue?.(batchOf, env, ctx);
    const result = await getQueueResult(batchOf, ctx);
    expect(result.retryMessages).toEqual([]);
    const staged = await stagedEvents(projectId);
    expect(staged).toHaveLength(200);
    expect(Math.min(...staged.map((e) => JSON.stringify(e.attributes).length))).toBe(
      JSON.stringify({ padding }).length,
    );
  });
});

/** An installation whose first batch set `tier` to gold and sent one event, both landed in D1. */
async function goldProfileProjected() {
  const p = await createProject();
  const i = uuid();
  const first = event("first");
  const answer = await batch(p, i, [attributes({ tier: "gold" }), first]);
  await waitForEvents(p, [first.id as string]);
  await vi.waitFor(async () => expect((await projectedProfile(p.projectId, answer.profile_id)).tier).toBe("gold"));
  return { p, i, first, answer, before: await projectedProfile(p.projectId, answer.profile_id) };
}

describe("what a batch projects", () => {
  it("leaves the D1 profile alone when a batch only adds events and sends values again, and moves it on a new value", async () => {
    const { p, i, first, answer, before } = await goldProfileProjected();

    const second = event("second");
    await batch(p, i, [attributes({ tier: "gold" }), second]);
    await waitForEvents(p, [first.id as string, second.id as string]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await projectedProfile(p.projectId, answer.profile_id)).toEqual(before);

    await batch(p, i, [attributes({ tier: "silver" })]);
    await vi.waitFor(async () => {
      const after = await projectedProfile(p.projectId, answer.profile_id);
      expect(after.tier).toBe("silver");
      expect(after.version).toBeGreaterThan(before.version as number);
    });
  });

  it("does not project again a profile that has not moved, once its object was evicted and woken", async () => {
    const { p, i, first, answer, before } = await goldProfileProjected();
    // Events only: nothing to project. This write also deletes the first batch's sent messages,
    // which an eviction would otherwise send again (at-least-once).
    const second = event("second");
    await batch(p, i, [second]);
    await waitForEvents(p, [first.id as string, second.id as string]);

    await abortAllDurableObjects();
    const third = event("third");
    await batch(p, i, [attributes({ tier: "gold" }), third]);
    await waitForEvents(p, [first.id as string, second.id as string, third.id as string]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await projectedProfile(p.projectId, answer.profile_id)).toEqual(before);
  });

  it("projects a call that moves the last activity into a new hour, even with nothing else in it", async () => {
    const p = await createProject();
    const i = uuid();
    const answer = await batch(p, i, [attributes({ tier: "gold" })]);
    await vi.waitFor(async () => expect((await projectedProfile(p.projectId, answer.profile_id)).tier).toBe("gold"));
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString();
    await runInDurableObject(installationStub(p.projectId, i), (object, state) => {
      // biome-ignore lint/complexity/useLiteralKeys: the call an empty batch makes, with a time the test chooses.
      const store = object["store"] as ProfileStore;
      store.holder = { projectId: p.projectId, kind: "installation", id: i };
      store.transaction(() => store.touch(answer.profile_id, later));
      // biome-ignore lint/complexity/useLiteralKeys: as above.
      (object["outbox"] as Outbox).afterWrite(state);
    });
    await vi.waitFor(async () => {
      const row = await (await shardDb(p.projectId))
        .prepare("SELECT last_activity_at FROM profiles WHERE project_id = ? AND profile_id = ?")
        .bind(p.projectId, answer.profile_id)
        .first<{ last_activity_at: string }>();
      expect(row?.last_activity_at).toBe(later);
    });
  });

  it("takes in a device change at once, even within the minute the installation was last seen", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [], { app_version: "1.0.0" });
    await batch(p, i, [], { app_version: "1.1.0" });
    const { body } = await profileBy(p, { installation_id: i });
    const installation = body?.installations.find((x) => x.installation_id === i) as { app_version?: string };
    expect(installation?.app_version).toBe("1.1.0");
  });
});
