import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { processRequest } from "../../src/privacy/process";
import { finish, loadRequest } from "../../src/privacy/store";
import { createProject } from "../support/harness";
import { createWebhook, Receivers } from "../support/webhooks";

let receivers: Receivers;
beforeEach(() => {
  receivers = new Receivers().install({ retryDelaySeconds: () => 0, timeoutMs: 50 });
});
afterEach(() => receivers.restore());

/** The environment with the webhooks queue's sends recorded, or refused. */
function withWebhooks(fail: boolean, sent: unknown[]): Env {
  return {
    ...env,
    WEBHOOKS: {
      send: async () => {
        throw new Error("unused");
      },
      sendBatch: async (batch: { body: unknown }[]) => {
        if (fail) throw new Error("queue unavailable");
        sent.push(...batch.map((m) => m.body));
      },
    } as unknown as Env["WEBHOOKS"],
  };
}

/** A project with a privacy.completed webhook and one pending review of nobody. */
async function pendingReview() {
  const p = await createProject();
  await createWebhook(p, receivers.url(), ["privacy.completed"]);
  const id = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO privacy_requests (id, project_id, type, identifier_type, identifier_value, status, created_at)
     VALUES (?, ?, 'review', 'custom_id', 'nobody', 'pending', ?)`,
  )
    .bind(id, p.projectId, new Date().toISOString())
    .run();
  const row = await loadRequest(env, p.projectId, id);
  if (!row) throw new Error("no row");
  return { p, id, row };
}

describe("privacy.completed", () => {
  it("is not lost when its publish fails after the final status committed: the retry publishes it", async () => {
    const { p, id, row } = await pendingReview();

    const sent: unknown[] = [];
    await expect(
      finish(withWebhooks(true, sent), row, { status: "done", error: "not_found" }, new Date().toISOString()),
    ).rejects.toThrow();
    expect((await loadRequest(env, p.projectId, id))?.status).toBe("done");

    // The queue retries the message: the request is final, and its item still goes out.
    await processRequest(withWebhooks(false, sent), p.projectId, id, new Date());
    const items = sent.flatMap((m) => (m as { items: { topic: string; data: { request_id: string } }[] }).items);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ topic: "privacy.completed", data: { request_id: id } });
    // Published once: a later retry sends nothing more.
    await processRequest(withWebhooks(false, sent), p.projectId, id, new Date());
    expect(sent).toHaveLength(1);
  });
});

describe("a stuck privacy.completed outbox row", () => {
  it("is published by the five-minute cron when no retry of its request comes, and only once", async () => {
    const { id, row } = await pendingReview();
    const endedAt = new Date();
    const sent: unknown[] = [];
    // The publish fails after the final status committed; the message is acknowledged anyway.
    await expect(
      finish(withWebhooks(true, sent), row, { status: "done", error: "not_found" }, endedAt.toISOString()),
    ).rejects.toThrow();

    const cron = async (at: Date) => {
      const ctx = createExecutionContext();
      await worker.scheduled?.(
        createScheduledController({ cron: "*/5 * * * *", scheduledTime: at.getTime() }),
        withWebhooks(false, sent),
        ctx,
      );
      await waitOnExecutionContext(ctx);
    };
    // Too fresh to be stuck: its own drain may still be on the way.
    await cron(endedAt);
    expect(sent).toHaveLength(0);
    await cron(new Date(endedAt.getTime() + 10 * 60_000));
    const items = sent.flatMap((m) => (m as { items: { topic: string; data: { request_id: string } }[] }).items);
    expect(items.filter((i) => i.data.request_id === id)).toHaveLength(1);
    expect(items[0]).toMatchObject({ topic: "privacy.completed", data: { request_id: id } });
    await cron(new Date(endedAt.getTime() + 20 * 60_000));
    expect(sent).toHaveLength(1);
  });
});
