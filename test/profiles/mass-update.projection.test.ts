import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { projectShard } from "../../src/db/shards";
import worker from "../../src/index";
import { MAX_CHUNK_IDENTIFIERS } from "../../src/profiles/mass-update";
import { validateOperations } from "../../src/profiles/operations";
import { TASKS_QUEUE } from "../../src/queue/consumer";
import type { ProfileOpsMessage } from "../../src/queue/messages";
import { createProject } from "../support/harness";
import { customIdStub, profileBy } from "../support/identity";
import { shardDb } from "../support/shards";

/*
 * A mass-update chunk writes its custom IDs' profiles to D1 itself, in one round trip, instead
 * of each object queuing a projection message (docs/performance.md, "Mass update rate").
 */

async function recordRequest(projectId: string, id: string, total: number) {
  await env.DB.prepare(
    "INSERT INTO requests (id, project_id, kind, total, chunks, errors, created_at) VALUES (?, ?, 'profiles_mass_update', ?, 1, '[]', ?)",
  )
    .bind(id, projectId, total, new Date().toISOString())
    .run();
}

async function chunkOf(projectId: string, customIds: string[]): Promise<ProfileOpsMessage> {
  const requestId = crypto.randomUUID();
  await recordRequest(projectId, requestId, customIds.length);
  const { valid } = validateOperations(
    customIds.map((custom_id, k) => ({ identifiers: { custom_id }, attributes: { tier: "gold", rank: k } })),
    Date.now(),
  );
  return {
    type: "profile_ops",
    request_id: requestId,
    project_id: projectId,
    chunk: 0,
    received_at: new Date().toISOString(),
    items: valid,
  };
}

async function deliver(body: ProfileOpsMessage, taskEnv: Env, attempts = 1) {
  const batch = createMessageBatch<ProfileOpsMessage>(TASKS_QUEUE, [
    { id: `m-${attempts}`, timestamp: new Date(), attempts, body },
  ]);
  const ctx = createExecutionContext();
  await worker.queue?.(batch as MessageBatch<unknown>, taskEnv, ctx);
  return getQueueResult(batch, ctx);
}

/** env whose project's shard sees each batch writing the projection's profiles, and may refuse it. */
async function watchedProjection(projectId: string, refuse = false) {
  const seen = { batches: 0, parameters: [] as number[] };
  const ours = new WeakSet<D1PreparedStatement>();
  const { name, d1 } = await projectShard(env, projectId);
  const db = new Proxy(d1, {
    get(target, key) {
      if (key === "prepare")
        return (query: string) => {
          const statement = target.prepare(query);
          if (!/INTO profiles\b|UPDATE profiles\b|profile_attributes/.test(query)) return statement;
          return {
            bind: (...args: unknown[]) => {
              seen.parameters.push(args.length);
              const bound = statement.bind(...args);
              ours.add(bound);
              return bound;
            },
          };
        };
      if (key === "batch")
        return async (statements: D1PreparedStatement[]) => {
          if (statements.some((s) => ours.has(s))) {
            seen.batches++;
            if (refuse) throw new Error("D1_ERROR: the projection write failed");
          }
          return target.batch(statements);
        };
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { seen, env: { ...env, [name]: db } as Env };
}

async function projected(projectId: string) {
  const row = await (await shardDb(projectId))
    .prepare(
      "SELECT COUNT(*) AS n FROM profiles p JOIN profile_attributes a ON a.project_id = p.project_id AND a.profile_id = p.profile_id WHERE p.project_id = ? AND a.name = 'tier' AND a.value_text = 'gold'",
    )
    .bind(projectId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("a mass-update chunk's projection", () => {
  it(`writes a chunk's ${MAX_CHUNK_IDENTIFIERS} profiles to D1 in one round trip, with no projection message from each object`, async () => {
    const p = await createProject();
    const ids = Array.from({ length: MAX_CHUNK_IDENTIFIERS }, (_, k) => `proj-${k}`);
    const { seen, env: watched } = await watchedProjection(p.projectId);
    const result = await deliver(await chunkOf(p.projectId, ids), watched);
    expect(result.explicitAcks).toEqual(["m-1"]);

    // In D1 when the chunk is acknowledged, not after a trip through the projection queue.
    expect(await projected(p.projectId)).toBe(MAX_CHUNK_IDENTIFIERS);
    // The projection write is one D1 batch of statements that carry their rows as one JSON
    // parameter: within D1's 100 bound parameters.
    expect(seen.batches).toBe(1);
    expect(seen.parameters.length).toBeGreaterThan(0);
    expect(Math.max(...seen.parameters)).toBeLessThanOrEqual(100);

    // The objects staged no projection message: nothing of it is in their outboxes.
    for (const id of ["proj-0", "proj-7", `proj-${MAX_CHUNK_IDENTIFIERS - 1}`]) {
      const owed = await runInDurableObject(customIdStub(p.projectId, id), (_object, state) =>
        state.storage.sql.exec<{ body: string }>("SELECT messages AS body FROM commits WHERE messages <> ''").toArray(),
      );
      expect(owed.filter((r) => r.body.includes("profile_changed"))).toEqual([]);
    }
  });

  it("is written on the chunk's next delivery when D1 refused it after the objects applied", async () => {
    const p = await createProject();
    const chunk = await chunkOf(p.projectId, ["late-a", "late-b"]);
    const refused = await watchedProjection(p.projectId, true);
    const failed = await deliver(chunk, refused.env, 1);
    expect(failed.retryMessages).toEqual([{ msgId: "m-1" }]);
    expect(failed.explicitAcks).toEqual([]);
    // The objects applied; D1 has nothing yet, and no projection message is on its way.
    expect((await profileBy(p, { custom_id: "late-b" })).body?.attributes.tier?.value).toBe("gold");
    expect(await projected(p.projectId)).toBe(0);

    const retried = await deliver(chunk, env, 2);
    expect(retried.explicitAcks).toEqual(["m-2"]);
    expect(await projected(p.projectId)).toBe(2);
  });
});
