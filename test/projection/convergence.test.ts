import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { PROJECTION_QUEUE } from "../../src/queue/consumer";
import type { ProjectionMessage } from "../../src/queue/messages";
import { call, createProject, restHeaders } from "../support/harness";
import { attributes, batch, event, identify, logout, type Op } from "../support/identity";
import { projectedState, waitForProjection } from "../support/projection";
import { shardDb } from "../support/shards";

const CUSTOM_IDS = ["ann", "ben", "cat"];

const command = fc.oneof(
  fc.constantFrom(...CUSTOM_IDS).map((c) => ({ kind: "identify" as const, c })),
  fc.constant({ kind: "logout" as const }),
  fc.integer({ min: 0, max: 9 }).map((v) => ({ kind: "attributes" as const, v })),
  fc.constant({ kind: "event" as const }),
);

function toOp(c: typeof command extends fc.Arbitrary<infer T> ? T : never): Op {
  if (c.kind === "identify") return identify(c.c);
  if (c.kind === "logout") return logout();
  if (c.kind === "attributes") return attributes({ level: c.v, tags: [`t${c.v}`], vip: c.v > 5 });
  return event("tick");
}

async function deliver(messages: ProjectionMessage[]) {
  const batchOf = createMessageBatch<ProjectionMessage>(
    PROJECTION_QUEUE,
    messages.map((body, k) => ({ id: `m${k}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batchOf, env, ctx);
  return getQueueResult(batchOf, ctx);
}

describe("the D1 projection", () => {
  it("converges to what the Durable Objects hold after a random identity workload", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ installation: fc.nat({ max: 2 }), commands: fc.array(command, { minLength: 1, maxLength: 4 }) }),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        async (batches) => {
          const p = await createProject();
          const installations = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
          await Promise.all(
            installations.map(async (id, k) => {
              for (const b of batches.filter((x) => x.installation === k)) await batch(p, id, b.commands.map(toOp));
            }),
          );
          await call("POST", "/v1/profiles/update", {
            headers: restHeaders(p),
            body: [{ identifiers: { custom_id: "cat" }, attributes: { level: 42 } }],
          });
          await waitForProjection(p.projectId, installations, CUSTOM_IDS);
        },
      ),
      { numRuns: 6 },
    );
  }, 180_000);

  it("marks a login's orphaned profile orphaned, so it never matches", async () => {
    const p = await createProject();
    const first = crypto.randomUUID();
    const second = crypto.randomUUID();
    await batch(p, first, [identify("owner")]);
    const orphan = await batch(p, second, [attributes({ tier: "gold" })]);
    await batch(p, second, [identify("owner")]);
    await waitForProjection(p.projectId, [first, second], ["owner"]);
    const row = await (await shardDb(p.projectId))
      .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, orphan.profile_id)
      .first<{ state: string }>();
    expect(row?.state).toBe("orphaned");
  });

  it("keeps only active profiles' attributes: an orphan's attributes and array items leave D1", async () => {
    const p = await createProject();
    const first = crypto.randomUUID();
    const second = crypto.randomUUID();
    await batch(p, first, [identify("keeper")]);
    const orphan = await batch(p, second, [attributes({ tier: "gold", tags: ["a", "b"] })]);
    await waitForProjection(p.projectId, [first, second], ["keeper"]);
    const db = await shardDb(p.projectId);
    const held = (table: string) =>
      db
        .prepare(`SELECT count(*) AS n FROM ${table} WHERE project_id = ? AND profile_id = ?`)
        .bind(p.projectId, orphan.profile_id)
        .first<{ n: number }>();
    expect((await held("profile_attributes"))?.n).toBe(2);
    expect((await held("profile_attribute_items"))?.n).toBe(2);

    await batch(p, second, [identify("keeper")]);
    await waitForProjection(p.projectId, [first, second], ["keeper"]);
    expect((await held("profile_attributes"))?.n).toBe(0);
    expect((await held("profile_attribute_items"))?.n).toBe(0);
    const res = await call("POST", "/v1/segments/query", {
      headers: restHeaders(p),
      body: { where: { attribute: "tier", op: "eq", value: "gold" }, count_only: true },
    });
    expect(await res.json()).toEqual({ count: 0, profiles: [], next_cursor: null });
  });

  it("ignores redelivered and late messages: a row never moves back to an older version", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const answer = await batch(p, i, [identify("versioned"), attributes({ colour: "blue" })]);
    await waitForProjection(p.projectId, [i], ["versioned"]);
    const message: ProjectionMessage = {
      type: "profile_changed",
      project_id: p.projectId,
      profile_id: answer.profile_id,
      holder: { projectId: p.projectId, kind: "custom_id", id: "versioned" },
    };

    // A redelivery of the current state changes nothing.
    const before = await projectedState(p.projectId);
    const result = await deliver([message, message]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(await projectedState(p.projectId)).toEqual(before);

    // A row already at a newer version than the object reports is left alone, attributes included.
    await (await shardDb(p.projectId))
      .prepare("UPDATE profiles SET version = 1000 WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, answer.profile_id)
      .run();
    await (await shardDb(p.projectId))
      .prepare(
        "UPDATE profile_attributes SET value_text = 'from-the-future', version = 1000 WHERE project_id = ? AND profile_id = ?",
      )
      .bind(p.projectId, answer.profile_id)
      .run();
    await deliver([message]);
    const after = await projectedState(p.projectId);
    expect(after.profiles.get(answer.profile_id)?.version).toBe(1000);
    expect(after.profiles.get(answer.profile_id)?.attributes.colour).toBe("from-the-future");
  });

  it("skips a message whose profile moved: its new holder reports it", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const anon = await batch(p, i, [attributes({ plan: "free" })]);
    await batch(p, i, [identify("mover")]);
    await waitForProjection(p.projectId, [i], ["mover"]);
    const stale: ProjectionMessage = {
      type: "profile_changed",
      project_id: p.projectId,
      profile_id: anon.profile_id,
      holder: { projectId: p.projectId, kind: "installation", id: i },
    };
    const result = await deliver([stale]);
    expect(result.explicitAcks).toEqual(["m0"]);
    const row = (await projectedState(p.projectId)).profiles.get(anon.profile_id);
    expect(row?.custom_id).toBe("mover");
  });

  it("retries the message when D1 refuses the write", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [event("x")]);
    const db = await shardDb(p.projectId);
    await db.exec("ALTER TABLE installations RENAME TO installations_away");
    // The consumer logs the refusal it retries; the test checks that line instead of printing it.
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const result = await deliver([{ type: "installation_changed", project_id: p.projectId, installation_id: i }]);
      expect(result.retryMessages).toEqual([{ msgId: "m0" }]);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining("no such table: installations"));
    } finally {
      logged.mockRestore();
      await db.exec("ALTER TABLE installations_away RENAME TO installations");
    }
  });
});
