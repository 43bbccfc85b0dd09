import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { chunkBy } from "../../src/lib/chunk";
import { validateOperations } from "../../src/profiles/operations";
import { TASKS_DLQ, TASKS_QUEUE } from "../../src/queue/consumer";
import type { ProfileOpsMessage } from "../../src/queue/messages";
import { breakStorage } from "../support/broken";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { customIdStub, profileBy } from "../support/identity";

interface RequestStatus {
  request_id: string;
  kind: string;
  status: "pending" | "done" | "failed";
  total: number;
  applied: number;
  errors: { bulk_index: number; category: string; reason: string }[];
}

function requestStatus(p: Project, id: string) {
  return call("GET", `/v1/requests/${id}`, { headers: restHeaders(p) });
}

async function settled(p: Project, id: string): Promise<RequestStatus> {
  return vi.waitFor(
    async () => {
      const body = await (await requestStatus(p, id)).json<RequestStatus>();
      if (body.status === "pending") throw new Error(`still pending: ${body.applied}/${body.total}`);
      return body;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** Delivers one mass-update chunk to a queue handler, as the runtime would. */
async function deliver(queue: string, body: ProfileOpsMessage, attempts = 1) {
  const batch = createMessageBatch<ProfileOpsMessage>(queue, [
    { id: `m-${attempts}`, timestamp: new Date(), attempts, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue?.(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

async function recordRequest(projectId: string, id: string, total: number) {
  await env.DB.prepare(
    "INSERT INTO requests (id, project_id, kind, total, chunks, errors, created_at) VALUES (?, ?, 'profiles_mass_update', ?, 1, '[]', ?)",
  )
    .bind(id, projectId, total, new Date().toISOString())
    .run();
}

describe("POST /v1/profiles/mass-update", () => {
  it("validates up front, applies through the queue, and reports progress and per-operation errors", async () => {
    const p = await createProject();
    const operations: unknown[] = Array.from({ length: 300 }, (_, k) => ({
      identifiers: { custom_id: `member-${k % 120}` },
      attributes: { [`field_${k % 3}`]: k },
      events: k % 50 === 0 ? [{ name: "imported" }] : undefined,
    }));
    operations.splice(7, 0, { identifiers: { custom_id: "x" }, attributes: { $email_address: "nope" } });
    operations.splice(150, 0, { identifiers: {} });

    const res = await call("POST", "/2.1/profiles/mass-update", { headers: restHeaders(p), body: operations });
    expect(res.status).toBe(202);
    const answer = await res.json<{ code: string; request_id: string; errors: { bulk_index: number }[] }>();
    expect(answer.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(answer.errors.map((e) => e.bulk_index)).toEqual([7, 150]);

    const status = await settled(p, answer.request_id);
    expect(status).toMatchObject({ kind: "profiles_mass_update", status: "done", total: 302, applied: 300 });
    expect(status.errors.map((e) => [e.bulk_index, e.category])).toEqual([
      [7, "attributes"],
      [150, "identifiers"],
    ]);
    const member = await profileBy(p, { custom_id: "member-5" });
    // member-5 got operations 5, 125 and 245, all writing field_2: applied in order, the last wins.
    expect(member.body?.attributes.field_2?.value).toBe(245);
    expect(Object.keys(member.body?.attributes ?? {})).toEqual(["field_2"]);
    expect((await profileBy(p, { custom_id: "member-0" })).body?.events.map((e) => e.name)).toEqual(["imported"]);
  });

  it("keeps one identifier's operations in one chunk, in order", async () => {
    const items = Array.from({ length: 250 }, (_, k) => ({ bulk_index: k, op: { pad: "x".repeat(k % 7) } }));
    const chunks = chunkBy(items, 100, 96 * 1024);
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat().map((i) => i.bulk_index)).toEqual(items.map((i) => i.bulk_index));
  });

  it("retries a chunk that failed half-way without applying any operation twice", async () => {
    const p = await createProject();
    const requestId = crypto.randomUUID();
    const raw = [
      { identifiers: { custom_id: "retry-a" }, attributes: { tags: { $add: ["x"] } }, events: [{ name: "imported" }] },
      { identifiers: { custom_id: "retry-b" }, events: [{ name: "imported" }, { name: "welcomed" }] },
    ];
    const { valid } = validateOperations(raw, Date.now());
    await recordRequest(p.projectId, requestId, raw.length);
    const message: ProfileOpsMessage = {
      type: "profile_ops",
      request_id: requestId,
      project_id: p.projectId,
      chunk: 0,
      received_at: new Date().toISOString(),
      items: valid,
    };

    // The operations reach the Durable Objects, then recording progress in D1 fails.
    await env.DB.exec("ALTER TABLE request_chunks RENAME TO request_chunks_away");
    try {
      const failed = await deliver(TASKS_QUEUE, message, 1);
      expect(failed.retryMessages).toEqual([{ msgId: "m-1" }]);
      expect(failed.explicitAcks).toEqual([]);
    } finally {
      await env.DB.exec("ALTER TABLE request_chunks_away RENAME TO request_chunks");
    }
    expect((await profileBy(p, { custom_id: "retry-b" })).body?.events).toHaveLength(2);

    const retried = await deliver(TASKS_QUEUE, message, 2);
    expect(retried.explicitAcks).toEqual(["m-2"]);
    await deliver(TASKS_QUEUE, message, 3); // a redelivery after success changes nothing either

    expect((await profileBy(p, { custom_id: "retry-a" })).body?.events).toHaveLength(1);
    expect((await profileBy(p, { custom_id: "retry-b" })).body?.events).toHaveLength(2);
    const status = await (await requestStatus(p, requestId)).json<RequestStatus>();
    expect(status).toMatchObject({ status: "done", total: 2, applied: 2, errors: [] });
  });

  it("reports what a dead-lettered chunk actually applied, and the operations that still fail", async () => {
    const p = await createProject();
    const requestId = crypto.randomUUID();
    // The object of "dead" exists, then its storage breaks: its operations fail on every attempt.
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "dead" }, attributes: { a: 0 } }],
    });
    await breakStorage(customIdStub(p.projectId, "dead"));
    const { valid } = validateOperations(
      [
        { identifiers: { custom_id: "alive" }, attributes: { a: 1 } },
        { identifiers: { custom_id: "dead" }, attributes: { a: 1 } },
      ],
      Date.now(),
    );
    await recordRequest(p.projectId, requestId, 2);
    const message: ProfileOpsMessage = {
      type: "profile_ops",
      request_id: requestId,
      project_id: p.projectId,
      chunk: 0,
      received_at: new Date().toISOString(),
      items: valid,
    };
    const retried = await deliver(TASKS_QUEUE, message, 5);
    expect(retried.retryMessages).toEqual([{ msgId: "m-5" }]);
    expect((await (await requestStatus(p, requestId)).json<RequestStatus>()).status).toBe("pending");

    const result = await deliver(TASKS_DLQ, message);
    expect(result.explicitAcks).toEqual(["m-1"]);
    const status = await (await requestStatus(p, requestId)).json<RequestStatus>();
    expect(status).toMatchObject({ status: "failed", applied: 1, errors: [{ bulk_index: 1, category: "internal" }] });
    expect((await profileBy(p, { custom_id: "alive" })).body?.attributes.a?.value).toBe(1);
  });

  it("answers 404 for an unknown request", async () => {
    const p = await createProject();
    const res = await requestStatus(p, crypto.randomUUID());
    expect(res.status).toBe(404);
  });
});
