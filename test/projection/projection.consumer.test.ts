import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { PROJECTION_QUEUE } from "../../src/queue/consumer";
import type { ProjectionMessage } from "../../src/queue/messages";
import { createProject } from "../support/harness";
import { attributes, batch } from "../support/identity";

async function deliver(messages: ProjectionMessage[], queue = PROJECTION_QUEUE) {
  const batchOf = createMessageBatch<ProjectionMessage>(
    queue,
    messages.map((body, k) => ({ id: `m${k}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batchOf, env, ctx);
  return getQueueResult(batchOf, ctx);
}

async function projectedInstallation(projectId: string, installationId: string) {
  return env.DB.prepare("SELECT profile_id FROM installations WHERE project_id = ? AND installation_id = ?")
    .bind(projectId, installationId)
    .first<{ profile_id: string }>();
}

describe("the projection consumer", () => {
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
    await env.DB.prepare("DELETE FROM installations WHERE installation_id = ?").bind(shared).run();

    const result = await deliver([
      { type: "installation_changed", project_id: a.projectId, installation_id: shared },
      { type: "installation_changed", project_id: b.projectId, installation_id: shared },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(await projectedInstallation(a.projectId, shared)).not.toBeNull();
    expect(await projectedInstallation(b.projectId, shared)).not.toBeNull();
  });
});
