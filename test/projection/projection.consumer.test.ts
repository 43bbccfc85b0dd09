import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { allShards } from "../../src/db/shards";
import worker from "../../src/index";
import { PROJECTION_DLQ, PROJECTION_QUEUE } from "../../src/queue/consumer";
import type { ProjectionMessage } from "../../src/queue/messages";
import { countingShard } from "../support/counting-d1";
import { call, createProject, restHeaders } from "../support/harness";
import { attributes, batch } from "../support/identity";
import { deadLetter, deliverTo } from "../support/queues";
import { shardDb } from "../support/shards";

async function deliver(messages: ProjectionMessage[], queue = PROJECTION_QUEUE, bindings: Env = env) {
  const batchOf = createMessageBatch<ProjectionMessage>(
    queue,
    messages.map((body, k) => ({ id: `m${k}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batchOf, bindings, ctx);
  return getQueueResult(batchOf, ctx);
}

/** A hundred profiles created through the Profile API, projected; returns their messages. */
async function hundredProfiles() {
  const p = await createProject();
  const customIds = Array.from({ length: 100 }, (_, k) => `bulk-${k}-${crypto.randomUUID()}`);
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: customIds.map((custom_id, k) => ({
      identifiers: { custom_id },
      attributes: { plan: k % 2 ? "free" : "paid", seats: k, tags: ["a", `t${k}`] },
    })),
  });
  expect(res.status).toBe(202);
  const projected = async () =>
    (
      await (
        await shardDb(p.projectId)
      )
        .prepare("SELECT profile_id, custom_id FROM profiles WHERE project_id = ?")
        .bind(p.projectId)
        .all<{ profile_id: string; custom_id: string }>()
    ).results;
  await vi.waitFor(async () => expect(await projected()).toHaveLength(100), { timeout: 20_000, interval: 100 });
  const messages = (await projected()).map(
    (r): ProjectionMessage => ({
      type: "profile_changed",
      project_id: p.projectId,
      profile_id: r.profile_id,
      holder: { projectId: p.projectId, kind: "custom_id", id: r.custom_id },
    }),
  );
  return { p, messages };
}

async function projectedRows(projectId: string) {
  return (await shardDb(projectId))
    .prepare(
      `SELECT (SELECT count(*) FROM profiles WHERE project_id = ?1) AS profiles,
       (SELECT count(*) FROM profile_attributes WHERE project_id = ?1) AS attributes,
       (SELECT count(*) FROM profile_attribute_items WHERE project_id = ?1) AS items`,
    )
    .bind(projectId)
    .first<{ profiles: number; attributes: number; items: number }>();
}

async function forget(projectId: string) {
  for (const table of ["profiles", "profile_attributes", "profile_attribute_items"])
    await (await shardDb(projectId)).prepare(`DELETE FROM ${table} WHERE project_id = ?`).bind(projectId).run();
}

async function projectedInstallation(projectId: string, installationId: string) {
  return (await shardDb(projectId))
    .prepare("SELECT profile_id FROM installations WHERE project_id = ? AND installation_id = ?")
    .bind(projectId, installationId)
    .first<{ profile_id: string }>();
}

describe("the projection consumer", () => {
  it("projects a batch of 100 profiles, one of them sent twice, in one D1 round trip", async () => {
    const { p, messages } = await hundredProfiles();
    await forget(p.projectId);
    const { env: counted, tally } = await countingShard(p.projectId);
    const [first] = messages;
    const result = await deliver([...messages, first as ProjectionMessage], PROJECTION_QUEUE, counted);
    expect(result.explicitAcks).toHaveLength(101);
    expect(tally.roundTrips).toBe(1);
    expect(await projectedRows(p.projectId)).toEqual({ profiles: 100, attributes: 300, items: 200 });
  }, 60_000);

  it("keeps one D1 round trip when a message of the batch cannot be read, and retries that one alone", async () => {
    const { p, messages } = await hundredProfiles();
    await forget(p.projectId);
    const poison = { type: "profile_changed", project_id: p.projectId, profile_id: "x" } as ProjectionMessage;
    const { env: counted, tally } = await countingShard(p.projectId);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const result = await deliver([poison, ...messages], PROJECTION_QUEUE, counted);
      expect(result.retryMessages).toEqual([{ msgId: "m0" }]);
      expect(result.explicitAcks).toHaveLength(100);
    } finally {
      logged.mockRestore();
    }
    expect(tally.roundTrips).toBe(1);
    expect(await projectedRows(p.projectId)).toEqual({ profiles: 100, attributes: 300, items: 200 });
  }, 60_000);

  it("projects both installations when two projects' installations share an ID in one batch", async () => {
    const [a, b] = [await createProject(), await createProject()];
    const shared = crypto.randomUUID();
    await batch(a, shared, [attributes({ team: "a" })]);
    await batch(b, shared, [attributes({ team: "b" })]);
    await vi.waitFor(
      async () => {
        expect(await projectedInstallation(a.projectId, shared)).not.toBeNull();
        expect(await projectedInstallation(b.projectId, shared)).not.toBeNull();
      },
      { timeout: 20_000, interval: 100 },
    );
    for (const s of allShards(env))
      await s.d1.prepare("DELETE FROM installations WHERE installation_id = ?").bind(shared).run();

    const result = await deliver([
      { type: "installation_changed", project_id: a.projectId, installation_id: shared },
      { type: "installation_changed", project_id: b.projectId, installation_id: shared },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(await projectedInstallation(a.projectId, shared)).not.toBeNull();
    expect(await projectedInstallation(b.projectId, shared)).not.toBeNull();
  });

  it("projects both an installation and the profile its message names", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const { profile_id } = await batch(p, i, [attributes({ team: "paired" })]);
    await vi.waitFor(async () => expect(await projectedInstallation(p.projectId, i)).not.toBeNull(), {
      timeout: 20_000,
      interval: 100,
    });
    const db = await shardDb(p.projectId);
    const profileRow = () =>
      db
        .prepare("SELECT profile_id FROM profiles WHERE project_id = ? AND profile_id = ?")
        .bind(p.projectId, profile_id)
        .first();
    await db.prepare("DELETE FROM installations WHERE project_id = ?").bind(p.projectId).run();
    await forget(p.projectId);

    const result = await deliver([
      { type: "installation_and_profile_changed", project_id: p.projectId, installation_id: i, profile_id },
    ]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await projectedInstallation(p.projectId, i)).toEqual({ profile_id });
    expect(await profileRow()).toEqual({ profile_id });
  });

  it("acknowledges the good messages of a batch and retries only the one that fails", async () => {
    const p = await createProject();
    const good = crypto.randomUUID();
    await batch(p, good, [attributes({ team: "good" })]);
    await vi.waitFor(async () => expect(await projectedInstallation(p.projectId, good)).not.toBeNull(), {
      timeout: 20_000,
      interval: 100,
    });
    await (await shardDb(p.projectId)).prepare("DELETE FROM installations WHERE installation_id = ?").bind(good).run();
    // A message without its holder cannot be read: it fails on every delivery.
    const poison = { type: "profile_changed", project_id: p.projectId, profile_id: "x" } as ProjectionMessage;

    const result = await deliver([
      { type: "installation_changed", project_id: p.projectId, installation_id: good },
      poison,
    ]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([{ msgId: "m1" }]);
    expect(await projectedInstallation(p.projectId, good)).not.toBeNull();
  });

  it("replays a dead-lettered projection message, and records one that still fails", async () => {
    const p = await createProject();
    const good = crypto.randomUUID();
    await batch(p, good, [attributes({ team: "good" })]);
    await vi.waitFor(async () => expect(await projectedInstallation(p.projectId, good)).not.toBeNull(), {
      timeout: 20_000,
      interval: 100,
    });
    await (await shardDb(p.projectId)).prepare("DELETE FROM installations WHERE installation_id = ?").bind(good).run();
    const poison = { type: "profile_changed", project_id: p.projectId, profile_id: "x" } as ProjectionMessage;

    const result = await deliverTo(
      PROJECTION_DLQ,
      [{ type: "installation_changed", project_id: p.projectId, installation_id: good }, poison],
      { prefix: `dlq-${good}-` },
    );
    expect(result.explicitAcks.sort()).toEqual([`dlq-${good}-0`, `dlq-${good}-1`]);
    expect(await projectedInstallation(p.projectId, good)).not.toBeNull();
    expect(await deadLetter(PROJECTION_DLQ, `dlq-${good}-0`)).toMatchObject({
      outcome: "replayed",
      project_id: p.projectId,
      error: null,
    });
    const kept = await deadLetter(PROJECTION_DLQ, `dlq-${good}-1`);
    expect(kept).toMatchObject({ outcome: "recorded", project_id: p.projectId });
    expect(kept?.error).toBeTruthy();
    expect(JSON.parse(kept?.body ?? "null")).toEqual(poison);

    // A redelivery from the dead-letter queue records nothing twice.
    await deliverTo(
      PROJECTION_DLQ,
      [{ type: "installation_changed", project_id: p.projectId, installation_id: good }, poison],
      {
        prefix: `dlq-${good}-`,
      },
    );
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM dead_letters WHERE message_id LIKE ?")
      .bind(`dlq-${good}-%`)
      .first<{ n: number }>();
    expect(rows?.n).toBe(2);
  });
});
