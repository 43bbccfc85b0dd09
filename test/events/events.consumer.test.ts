import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { EVENTS_DLQ, EVENTS_QUEUE } from "../../src/queue/consumer";
import type { EventsMessage } from "../../src/queue/messages";
import { createProject } from "../support/harness";
import { batch } from "../support/identity";
import { deadLetter, deliverTo } from "../support/queues";

async function landed(projectId: string, eventId: string) {
  const rows = await env.DB.prepare("SELECT profile_id FROM events WHERE project_id = ? AND event_id = ?")
    .bind(projectId, eventId)
    .all<{ profile_id: string }>();
  return rows.results.map((r) => r.profile_id).sort();
}

describe("the events consumer", () => {
  it("lands two profiles' events that share an op id as two events", async () => {
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
    // A null name breaks the events table's NOT NULL: the message fails on every delivery.
    events: [
      {
        id: eventId,
        name: name as string,
        time: new Date().toISOString(),
        attributes: {},
        label: null,
        tags: [],
        source: "api",
      },
    ],
  };
}

describe("the events consumer's retries and dead letters", () => {
  it("lands the good messages of a batch and retries only the one that fails", async () => {
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

  it("lands a dead-lettered message once more, and records one that still fails with its body", async () => {
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
