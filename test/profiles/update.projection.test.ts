import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { CustomIdObject } from "../../src/identity/custom-id-object";
import { jsonBytes } from "../../src/lib/chunk";
import { applyOperations } from "../../src/profiles/apply";
import { applyAndProject, checkMessages } from "../../src/profiles/apply-projected";
import { validateOperations } from "../../src/profiles/operations";
import { PROJECTION_QUEUE } from "../../src/queue/consumer";
import { createProject } from "../support/harness";
import { customIdStub } from "../support/identity";
import { deliverTo } from "../support/queues";
import { shardDb } from "../support/shards";

/*
 * A synchronous update writes the profiles of the custom IDs it updated to D1 itself, and a
 * delayed check message has the projection read them again, should it stop before that write
 * (src/profiles/apply-projected.ts).
 */

const meta = () => {
  const requestId = crypto.randomUUID();
  return { requestId, receivedAt: new Date().toISOString(), idPrefix: requestId };
};

function items(customIds: string[], tier: string) {
  const { valid } = validateOperations(
    customIds.map((custom_id, k) => ({ identifiers: { custom_id }, attributes: { tier, rank: k } })),
    Date.now(),
  );
  return valid;
}

/** How many of the project's profiles D1 holds with this tier. */
async function projectedWith(projectId: string, tier: string): Promise<number> {
  const row = await (await shardDb(projectId))
    .prepare(
      `SELECT COUNT(*) AS n FROM profiles p JOIN profile_attributes a
         ON a.project_id = p.project_id AND a.profile_id = p.profile_id
       WHERE p.project_id = ? AND p.state = 'active' AND a.name = 'tier' AND a.value_text = ?`,
    )
    .bind(projectId, tier)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Messages the custom ID's object owes the queues (its commit log's rows not sent yet). */
function owed(projectId: string, customId: string): Promise<number> {
  return runInDurableObject(customIdStub(projectId, customId), (_o: CustomIdObject, state) => {
    const row = state.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM commits WHERE coalesce(messages, '') <> ''")
      .one();
    return row.n;
  });
}

describe("a synchronous update's projection", () => {
  it("is written to D1 by the update itself, after it answers, and its check then reads nothing", async () => {
    const p = await createProject();
    const ids = ["sync-a", "sync-b", "sync-c"];
    // The check waits an hour: what D1 holds now, the update wrote.
    const slowCheck = { ...env, PROJECTION_CHECK_DELAY_SECONDS: "3600" } as unknown as Env;
    const writes: Promise<unknown>[] = [];
    const m = meta();
    const work = items(ids, "gold");
    const outcome = await applyAndProject(slowCheck, p.projectId, work, m, (w) => writes.push(w));
    expect(outcome.errors).toEqual([]);
    expect(writes).toHaveLength(1);
    await Promise.all(writes);
    expect(await projectedWith(p.projectId, "gold")).toBe(ids.length);
    for (const id of ids) expect(await owed(p.projectId, id)).toBe(0);

    // The objects change again, unprojected: a check that read them would show it.
    await applyOperations(env, p.projectId, items(ids, "platinum"), { ...meta(), callerProjects: true });
    const [check] = checkMessages(m.requestId, p.projectId, work);
    const first = await deliverTo(PROJECTION_QUEUE, [check]);
    expect(first.explicitAcks).toEqual(["m0"]);
    // The update had recorded its write: the check read no object, and forgot the record.
    expect(await projectedWith(p.projectId, "gold")).toBe(ids.length);
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM projected_checks WHERE check_id = ?")
      .bind(check?.check_id)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    // Delivered again (a retry), it finds no record and reads them.
    await deliverTo(PROJECTION_QUEUE, [check]);
    expect(await projectedWith(p.projectId, "platinum")).toBe(ids.length);
  });

  it("is written by the check when the update stopped between its objects' commits and its D1 write", async () => {
    const p = await createProject();
    const ids = ["stopped-a", "stopped-b"];
    const work = items(ids, "silver");
    // What an update that stops after applying leaves: the objects committed, D1 not written.
    const applied = await applyOperations(env, p.projectId, work, { ...meta(), callerProjects: true });
    expect(applied.applied).toBe(ids.length);
    expect(await projectedWith(p.projectId, "silver")).toBe(0);

    // The check it queued first, through the real projection queue and its consumer.
    for (const body of checkMessages(crypto.randomUUID(), p.projectId, work))
      await env.PROJECTION.send(body, { contentType: "json" });
    await vi.waitFor(async () => expect(await projectedWith(p.projectId, "silver")).toBe(ids.length), {
      timeout: 10_000,
      interval: 50,
    });
  });

  it("checks a custom ID never written as nothing: no profile in D1, no object written", async () => {
    const p = await createProject();
    await env.PROJECTION.send(
      {
        type: "custom_ids_changed",
        check_id: "never-written:0",
        project_id: p.projectId,
        custom_ids: ["never-written"],
      },
      { contentType: "json" },
    );
    const stub = customIdStub(p.projectId, "never-written");
    await vi.waitFor(
      async () => {
        const held = await stub.currentProjection();
        expect(held).toBeNull();
      },
      { timeout: 5_000, interval: 50 },
    );
    const tables = await runInDurableObject(
      stub,
      (_o: CustomIdObject, state) =>
        state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'profiles'").toArray()
          .length,
    );
    expect(tables).toBe(0);
    const row = await (await shardDb(p.projectId))
      .prepare("SELECT COUNT(*) AS n FROM profiles WHERE project_id = ?")
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it("names each custom ID once, no installation, in messages a queue can carry", () => {
    // 200 custom IDs of 512 characters, each twice, and an installation.
    const long = Array.from({ length: 200 }, (_, k) => `${String(k).padStart(3, "0")}${"x".repeat(509)}`);
    const operations = [...long, ...long].map((custom_id) => ({ identifiers: { custom_id }, attributes: { a: 1 } }));
    operations.push({ identifiers: { installation_id: crypto.randomUUID() } as never, attributes: { a: 1 } });
    const { valid } = validateOperations(operations, Date.now());
    expect(valid).toHaveLength(401);
    const messages = checkMessages("r1", "p1", valid);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.flatMap((m) => m.custom_ids)).toEqual(long);
    for (const m of messages) {
      expect(m).toMatchObject({ type: "custom_ids_changed", project_id: "p1" });
      expect(m.check_id).toMatch(/^r1:\d+$/);
      expect(jsonBytes(m)).toBeLessThan(100 * 1024);
    }
  });

  it("leaves installations' operations to their objects' outboxes: no check names them", () => {
    const { valid } = validateOperations(
      [{ identifiers: { installation_id: crypto.randomUUID() }, attributes: { a: 1 } }],
      Date.now(),
    );
    expect(checkMessages("r1", "p1", valid)).toEqual([]);
  });
});
