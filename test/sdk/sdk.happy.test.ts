import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { QueueMessage } from "../../src/queue/messages";
import { retryDelaySeconds } from "../../src/queue/retry";
import { createProject } from "../support/harness";
import { batch, event, HELD_EVENTS, identify, installationStub, opId, profileBy, querySql } from "../support/identity";
import { stagedEvents, waitForStaged } from "../support/staged";

describe("POST /v1/sdk/batch: push, in-app and the event queue", () => {
  it("records push token and opt-in on the installation and publishes push and in-app events", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const answer = await batch(p, i, [
      { id: opId(), type: "push_token", provider: "apns", token: "tok-1" },
      { id: opId(), type: "push_optin", opted_in: true },
      { id: opId(), type: "push_opened", campaign_token: "camp-1" },
      {
        id: opId(),
        type: "inapp",
        event: "clicked",
        campaign_token: "camp-2",
        campaign_id: "c2",
        cta_index: 1,
        cta_label: "Buy",
      },
    ]);
    expect(answer.accepted).toBe(4);
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.installations[0]?.push).toEqual({ provider: "apns", token: "tok-1", opted_in: true });

    const rows = await waitForStaged(p.projectId, 3);
    expect(rows.map((r) => r.name).sort()).toEqual(["inapp_clicked", "push_opened", "push_optin"]);
    const clicked = rows.find((r) => r.name === "inapp_clicked");
    expect(clicked?.attributes).toMatchObject({
      campaign_id: "c2",
      cta_index: 1,
      cta_label: "Buy",
    });
  });

  it("stores events on the profile and stages each exactly once in R2, with the custom ID it was sent under", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const before = event("browsed");
    const after = event("purchased", { items: [{ sku: "X1", qty: 2 }], total: 19.9 });
    await batch(p, i, [before, identify("buyer"), after]);
    await batch(p, i, [before, after]); // a retry: acknowledged, not published again

    const { body } = await profileBy(p, { custom_id: "buyer" });
    expect(body?.events.map((e) => e.name).sort()).toEqual(["browsed", "purchased"]);
    const rows = await waitForStaged(p.projectId, 2);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === before.id)?.custom_id).toBeNull();
    expect(rows.find((r) => r.id === after.id)?.custom_id).toBe("buyer");
  });
});

describe("event queue consumer", () => {
  it("backs off 10 s, 20 s, 40 s… up to 10 minutes", () => {
    expect([1, 2, 3, 4, 10].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 600]);
  });

  const message = (id: string, body: QueueMessage) => ({ id, timestamp: new Date(), attempts: 1, body });
  const eventMessage = (projectId: string, eventId: string): QueueMessage => ({
    type: "events",
    project_id: projectId,
    profile_id: "p-1",
    custom_id: null,
    installation_id: "i-1",
    app_id: "a-1",
    received_at: new Date().toISOString(),
    events: [
      {
        id: eventId,
        name: "tap",
        time: new Date().toISOString(),
        attributes: {},
        label: null,
        tags: [],
        source: "sdk",
      },
    ],
  });

  it("stages a batch once per project, app and hour; a redelivered batch rewrites the same objects", async () => {
    const projectId = crypto.randomUUID();
    const messages = [message("m1", eventMessage(projectId, "e1")), message("m2", eventMessage(projectId, "e1"))];
    for (let round = 0; round < 2; round++) {
      const batchOf = createMessageBatch<QueueMessage>("edge-cdp-events", messages);
      const ctx = createExecutionContext();
      await worker.queue?.(batchOf, env, ctx);
      const result = await getQueueResult(batchOf, ctx);
      expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    }
    const listed = await env.EXPORTS.list({ prefix: `events/${projectId}/` });
    expect(listed.objects).toHaveLength(1);
    expect(listed.objects[0]?.key).toMatch(
      new RegExp(`^events/${projectId}/a-1/\\d{4}-\\d{2}-\\d{2}/\\d{2}/[0-9a-f]{32}\\.ndjson$`),
    );
    // The same event delivered twice is one event to readers.
    expect((await stagedEvents(projectId)).map((e) => e.id)).toEqual(["e1"]);
  });

  it("retries with backoff when R2 refuses the write", async () => {
    const projectId = crypto.randomUUID();
    const failing = { ...env, EXPORTS: { put: () => Promise.reject(new Error("R2 unavailable")) } } as unknown as Env;
    // The consumer logs the refusal it retries; the test checks that line instead of printing it.
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const batchOf = createMessageBatch<QueueMessage>("edge-cdp-events", [
        message("m1", eventMessage(projectId, "e1")),
      ]);
      const ctx = createExecutionContext();
      await worker.queue?.(batchOf, failing, ctx);
      const result = await getQueueResult(batchOf, ctx);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toEqual([{ msgId: "m1" }]);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining("R2 unavailable"));
    } finally {
      logged.mockRestore();
    }
  });
});

describe("events kept per profile", () => {
  it("keeps the most recent 1,000 events in the object, trimming a little past the limit", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const sent: string[] = [];
    for (let b = 0; b < 12; b++) {
      const ops = Array.from({ length: 100 }, (_, k) => {
        const tick = event("tick");
        sent.push(String(tick.id));
        return { ...tick, time: new Date(Date.now() - (1200 - (b * 100 + k)) * 1000).toISOString() };
      });
      await batch(p, i, ops);
    }
    const held = await querySql(installationStub(p.projectId, i), `SELECT event_id FROM ${HELD_EVENTS} ORDER BY time`);
    expect(held.length).toBeGreaterThanOrEqual(1000);
    expect(held.length).toBeLessThanOrEqual(1100);
    // What is kept is the newest; what went is the oldest.
    expect(held.map((r) => r.event_id)).toEqual(sent.slice(sent.length - held.length));
  });

  it("keeps the newest 1,000 when older events arrive last (a backfill): the profile row's list ranks by time too", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString();
    // 1,070 recent events: batches of 100, then one of 70 (too large for the profile row: rows of their own).
    const recent: string[] = [];
    for (const size of [...Array(10).fill(100), 70] as number[]) {
      const ops = Array.from({ length: size }, () => {
        const tick = event("tick");
        recent.push(String(tick.id));
        return { ...tick, time: at(1200 - recent.length) };
      });
      await batch(p, i, ops);
    }
    // Then 50 events from two hours before: they fit in the profile row, and take it past 1,100.
    const backfill = Array.from({ length: 50 }, (_, k) => ({ ...event("old"), time: at(7200 + k) }));
    await batch(p, i, backfill);
    const held = await querySql(installationStub(p.projectId, i), `SELECT event_id FROM ${HELD_EVENTS}`);
    const ids = new Set(held.map((r) => r.event_id));
    // The 1,000 most recent by time are all still there (a list counted as the newest cut 30 of them).
    expect(recent.slice(-1000).filter((id) => !ids.has(id))).toEqual([]);
    expect(held.length).toBeGreaterThanOrEqual(1000);
  });
});
