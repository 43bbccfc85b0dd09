import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { OUTBOX_QUIET_MS, type Outbox } from "../../src/identity/outbox";
import type { ProfileStore } from "../../src/identity/profile-store";
import type { EventsMessage } from "../../src/queue/messages";
import { failStatements } from "../support/faults";
import { createProject, type Project } from "../support/harness";
import { batch, customIdStub, event, identify, installationStub, opId, sendBatch } from "../support/identity";
import { stagedEvents } from "../support/staged";

const uuid = () => crypto.randomUUID();

/** Whether the event queue's consumer staged the event in R2, where event history lives. */
async function landed(p: Project, id: string): Promise<boolean> {
  return (await stagedEvents(p.projectId)).some((e) => e.id === id);
}

const waitLanded = (p: Project, id: string) =>
  vi.waitFor(async () => expect(await landed(p, id)).toBe(true), { timeout: 10_000, interval: 100 });

const alarmOf = (p: Project, i: string) =>
  runInDurableObject(installationStub(p.projectId, i), (_o, state) => state.storage.getAlarm());

/** An events message an object still owes the queue: one event, `id`, on a profile of installation `i`. */
function owedEvent(p: Project, i: string, id: string): EventsMessage {
  const time = new Date().toISOString();
  return {
    type: "events",
    project_id: p.projectId,
    profile_id: "p-waiting",
    custom_id: null,
    installation_id: i,
    app_id: null,
    received_at: time,
    events: [{ id, name: "waiting", time, attributes: {}, label: null, tags: [], source: "sdk" }],
  };
}

describe("the outbox leaves nothing stranded", () => {
  it("sends the events a batch stored before a later op of it failed", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-broken")]);
    // Whatever alarm the sign-in left fires now: the failure below must not count on it.
    await runDurableObjectAlarm(installationStub(p.projectId, i));
    // The event is stored in the profile's row, in the write that fails.
    await failStatements(customIdStub(p.projectId, "user-broken"), /UPDATE profiles SET version/);
    const opened = { id: opId(), type: "push_opened", campaign_token: "c-1" };
    const res = await sendBatch(p, i, [opened, event("never")]);
    expect(res.status).toBe(500);
    await waitLanded(p, opened.id);
  });

  it("sends what the outbox holds from the alarm even when the transition it resumes fails", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [event("first")]);
    await failStatements(customIdStub(p.projectId, "user-unreachable"), /INSERT INTO profiles/);
    expect((await sendBatch(p, i, [identify("user-unreachable")])).status).toBe(500);
    // The object dies; it left a message unsent, which only its alarm can send now.
    await abortAllDurableObjects();
    await failStatements(customIdStub(p.projectId, "user-unreachable"), /INSERT INTO profiles/);
    const waiting = uuid();
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      const message = owedEvent(p, i, waiting);
      state.storage.sql.exec(
        "INSERT INTO commits (seq, at, messages) VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM commits), ?, ?)",
        Date.now(),
        JSON.stringify([["events", null, message]]),
      );
    });
    await runDurableObjectAlarm(installationStub(p.projectId, i)).catch(() => false);
    await waitLanded(p, waiting);
  });

  it("sends what an object of the older layout (a row per message) still owed, once it wakes", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [event("first")]);
    const waiting = uuid();
    const message = owedEvent(p, i, waiting);
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      const sql = state.storage.sql;
      sql.exec(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, dedupe TEXT UNIQUE, body TEXT NOT NULL)",
      );
      sql.exec("INSERT INTO outbox (queue, body) VALUES ('events', ?)", JSON.stringify(message));
    });
    await abortAllDurableObjects();
    await batch(p, i, [event("second")]);
    await waitLanded(p, waiting);
    // Its rows moved to the commit log, and the table went.
    const outbox = await runInDurableObject(installationStub(p.projectId, i), (_o, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'outbox'").toArray(),
    );
    expect(outbox).toEqual([]);
  });

  it("keeps the op IDs and sends the messages of an object from before the commit log, once it wakes", async () => {
    const p = await createProject();
    const i = uuid();
    const first = event("first");
    await batch(p, i, [first]);
    await waitLanded(p, first.id as string);
    const waiting = event("waiting");
    const owed = owedEvent(p, i, waiting.id as string);
    // The layout before: applied op IDs and owed messages in tables of their own.
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      const sql = state.storage.sql;
      sql.exec(
        `CREATE TABLE processed_ops (
           at INTEGER NOT NULL, seq INTEGER NOT NULL, profile_id TEXT, ops TEXT NOT NULL, PRIMARY KEY (at, seq)) WITHOUT ROWID`,
      );
      sql.exec("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)");
      sql.exec("INSERT INTO processed_ops SELECT at, seq, profile_id, ops FROM commits WHERE ops IS NOT NULL");
      sql.exec("INSERT INTO outbox (seq, body) VALUES (1, ?)", JSON.stringify([["events", null, owed]]));
      sql.exec("DROP TABLE commits");
    });
    await abortAllDurableObjects();
    const again = await batch(p, i, [first, event("second")]);
    expect(again).toMatchObject({ accepted: 1, duplicates: 1 });
    await waitLanded(p, waiting.id as string);
    const left = await runInDurableObject(installationStub(p.projectId, i), (_o, state) =>
      state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name IN ('outbox', 'processed_ops')")
        .toArray(),
    );
    expect(left).toEqual([]);
  });

  it("arms the alarm in the commit that stages a message, before any send", async () => {
    const p = await createProject();
    const i = uuid();
    const sent = event("first");
    const first = await batch(p, i, [sent]);
    await waitLanded(p, sent.id as string);
    // The alarm that call left armed fires, finds nothing to send, and arms nothing.
    await runDurableObjectAlarm(installationStub(p.projectId, i));
    expect(await alarmOf(p, i)).toBeNull();
    const armed = await runInDurableObject(installationStub(p.projectId, i), async (object, state) => {
      // biome-ignore lint/complexity/useLiteralKeys: the object's own transaction is what is under test.
      const transaction = object["transaction"].bind(object) as <T>(fn: () => T) => T;
      // biome-ignore lint/complexity/useLiteralKeys: as above.
      const store = object["store"] as ProfileStore;
      transaction(() =>
        store.enqueueEvents(
          first.profile_id,
          [
            {
              id: uuid(),
              name: "staged",
              time: new Date().toISOString(),
              attributes: {},
              label: null,
              tags: [],
              source: "sdk",
            },
          ],
          {
            projectId: p.projectId,
            customId: null,
            installationId: i,
            appId: null,
            receivedAt: new Date().toISOString(),
          },
        ),
      );
      return state.storage.getAlarm();
    });
    expect(armed).not.toBeNull();
  });
});

describe("the outbox alarm", () => {
  it("is let go once the object stays quiet for the quiet delay after everything was sent", async () => {
    const p = await createProject();
    const i = uuid();
    const first = event("first");
    await batch(p, i, [first]);
    await waitLanded(p, first.id as string);
    expect(await alarmOf(p, i)).not.toBeNull();
    await vi.waitFor(async () => expect(await alarmOf(p, i)).toBeNull(), {
      timeout: OUTBOX_QUIET_MS + 5_000,
      interval: 250,
    });
    expect(
      await runInDurableObject(
        installationStub(p.projectId, i),
        (_o, state) =>
          state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM commits WHERE messages <> ''").one().n,
      ),
    ).toBe(0);
  }, 30_000);

  it("is armed once for the calls of a busy period, then fires once, finds nothing and arms nothing", async () => {
    const p = await createProject();
    const i = uuid();
    const first = event("first");
    await batch(p, i, [first]);
    await waitLanded(p, first.id as string);
    const armed = await alarmOf(p, i);
    expect(armed).not.toBeNull();
    // Past the quiet delay: the sent rows go, the alarm stays, and the next calls arm nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const name of ["second", "third"]) {
      const next = event(name);
      await batch(p, i, [next]);
      await waitLanded(p, next.id as string);
    }
    expect(await alarmOf(p, i)).toBe(armed);
    expect(await runDurableObjectAlarm(installationStub(p.projectId, i))).toBe(true);
    expect(await alarmOf(p, i)).toBeNull();
    expect(
      await runInDurableObject(
        installationStub(p.projectId, i),
        (_o, state) =>
          state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM commits WHERE messages <> ''").one().n,
      ),
    ).toBe(0);
  });

  it("stays armed while the queue refuses what the outbox holds, and goes once it is sent", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, []);
    await runInDurableObject(installationStub(p.projectId, i), (object) => {
      // biome-ignore lint/complexity/useLiteralKeys: a queue that refuses sends, for this object only.
      const queues = (object["outbox"] as Outbox)["queues"] as Record<string, Queue>;
      queues.events = { sendBatch: () => Promise.reject(new Error("queue down")) } as unknown as Queue;
    });
    const refused = event("refused");
    await batch(p, i, [refused]);
    await vi.waitFor(async () => expect(await alarmOf(p, i)).not.toBeNull(), { timeout: 10_000, interval: 100 });
    await runInDurableObject(installationStub(p.projectId, i), (object) => {
      // biome-ignore lint/complexity/useLiteralKeys: the queue is back.
      const queues = (object["outbox"] as Outbox)["queues"] as Record<string, Queue>;
      queues.events = env.EVENTS;
    });
    expect(await runDurableObjectAlarm(installationStub(p.projectId, i))).toBe(true);
    await waitLanded(p, refused.id as string);
    expect(await alarmOf(p, i)).toBeNull();
  });
});
