import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { MAX_CHUNK_IDENTIFIERS, planChunks, refuseOversized } from "../../src/profiles/mass-update";
import { validateOperations } from "../../src/profiles/operations";
import { MAX_DEFERRALS } from "../../src/profiles/pace";
import type { ProfileOpsMessage } from "../../src/queue/messages";
import { BASE, call, createProject, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { chunkOf, deliver, recorded, recordRequest, spendPace } from "./mass-update-pace.support";

interface RequestStatus {
  status: "pending" | "done" | "failed";
  total: number;
  applied: number;
  errors: unknown[];
}

async function statusOf(p: Project, id: string): Promise<RequestStatus> {
  return (await call("GET", `/v1/requests/${id}`, { headers: restHeaders(p) })).json<RequestStatus>();
}

async function settled(p: Project, id: string, timeout: number): Promise<RequestStatus> {
  return vi.waitFor(
    async () => {
      const body = await statusOf(p, id);
      if (body.status === "pending") throw new Error(`still pending: ${body.applied}/${body.total}`);
      return body;
    },
    { timeout, interval: 250 },
  );
}

const UNWRAP = Symbol("statement");
const MINE = Symbol("mine");

/** The D1 calls and queue sends an env's bindings see: one per round trip, one per statement. */
function counted() {
  const seen = { d1RoundTrips: 0, d1Statements: 0, sends: 0, sentMessages: 0 };
  // Only the accept's own tables: the key look-up of authentication is not the accept's cost.
  const ours = (sql: string) => /chunk_parts|"requests"|request_chunks/.test(sql);
  const track = (statement: D1PreparedStatement, mine: boolean): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, key) {
        if (key === UNWRAP) return target;
        const value = Reflect.get(target, key, target);
        if (key === MINE) return mine;
        if (key === "bind") return (...args: unknown[]) => track(target.bind(...args), mine);
        if (key === "run" || key === "all" || key === "first" || key === "raw") {
          return (...args: unknown[]) => {
            if (mine) seen.d1RoundTrips++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const db = new Proxy(env.DB, {
    get(target, key) {
      if (key === "prepare")
        return (sql: string) => {
          if (ours(sql)) seen.d1Statements++;
          return track(target.prepare(sql), ours(sql));
        };
      if (key === "batch")
        return (statements: D1PreparedStatement[]) => {
          if (statements.some((s) => (s as unknown as Record<symbol, boolean>)[MINE])) seen.d1RoundTrips++;
          // The real statements: the binding takes only its own objects.
          return target.batch(
            statements.map((s) => (s as unknown as Record<symbol, D1PreparedStatement>)[UNWRAP] ?? s),
          );
        };
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const tasks = {
    send: (body: unknown, options?: QueueSendOptions) => {
      seen.sends++;
      seen.sentMessages++;
      return env.TASKS.send(body, options);
    },
    sendBatch: (messages: MessageSendRequest[], options?: QueueSendBatchOptions) => {
      seen.sends++;
      seen.sentMessages += messages.length;
      return env.TASKS.sendBatch(messages, options);
    },
  };
  return { seen, env: { ...env, DB: db, TASKS: tasks as unknown as Queue } as Env };
}

describe("accepting a mass update", () => {
  it("answers 10,000 operations 202 after one D1 round trip and a few queue sends, then applies them all", async () => {
    const p = await createProject();
    // 40 custom IDs with 150 operations each (too many for one message: stored in D1 parts)
    // and 40 with 100 each (queued in their messages): 10,000 operations, 80 chunks.
    const operations = [
      ...Array.from({ length: 6000 }, (_, k) => ({
        identifiers: { custom_id: `stored-${k % 40}` },
        attributes: { counter: Math.floor(k / 40) },
      })),
      ...Array.from({ length: 4000 }, (_, k) => ({
        identifiers: { custom_id: `queued-${k % 40}` },
        attributes: { counter: Math.floor(k / 40) },
      })),
    ];
    const body = JSON.stringify(operations);
    const { seen, env: countingEnv } = counted();
    const ctx = createExecutionContext();
    const res = await worker.fetch?.(
      new Request(`${BASE}/v1/profiles/mass-update`, {
        method: "POST",
        headers: { ...restHeaders(p), "Content-Type": "application/json" },
        body,
      }) as Request<unknown, IncomingRequestCfProperties>,
      countingEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    if (!res) throw new Error("no response");
    expect(res.status).toBe(202);
    const { code, request_id } = await res.json<{ code: string; request_id: string }>();
    expect(code).toBe("SUCCESS");
    expect(request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    // The request row and the 40 stored parts: one statement each, all in one round trip.
    expect(seen.d1Statements).toBe(41);
    expect(seen.d1RoundTrips).toBe(1);
    // 80 chunk messages of about 1 MB in all: sends of up to 100 messages / 240 KB each.
    expect(seen.sentMessages).toBe(80);
    expect(seen.sends).toBeLessThanOrEqual(Math.ceil(body.length / (240 * 1024)) + 1);

    // 80 chunks of up to 100 identifiers: within one project's pace, they all run at once.
    const status = await settled(p, request_id, 120_000);
    expect(status).toMatchObject({ status: "done", total: 10_000, applied: 10_000, errors: [] });
    expect((await profileBy(p, { custom_id: "stored-7" })).body?.attributes.counter?.value).toBe(149);
    expect((await profileBy(p, { custom_id: "queued-39" })).body?.attributes.counter?.value).toBe(99);
  }, 180_000);

  it(`packs at most ${MAX_CHUNK_IDENTIFIERS} identifiers in a chunk, so one chunk is a short piece of work`, () => {
    const raw = Array.from({ length: 1000 }, (_, k) => ({ identifiers: { custom_id: `new-${k}` }, attributes: { k } }));
    const chunks = planChunks(refuseOversized(validateOperations(raw, Date.now()).valid).fits);
    expect(chunks).toHaveLength(1000 / MAX_CHUNK_IDENTIFIERS);
    for (const chunk of chunks)
      expect(new Set(chunk.items.map((i) => i.op.identifier.value)).size).toBe(MAX_CHUNK_IDENTIFIERS);
  });
});

describe("pacing mass updates per project", () => {
  it("defers a project's chunk past its pace, while another project's chunk still runs, and applies it later", async () => {
    const busy = await createProject();
    const other = await createProject();
    // The pace is a fixed window: if it turned between spending it and delivering, try again.
    // Each attempt names its own member: an attempt the window let through applied its chunk.
    let deferred: { requestId: string; member: string; result: Awaited<ReturnType<typeof deliver>> } | null = null;
    let otherRequest = "";
    for (let attempt = 0; attempt < 3 && !deferred; attempt++) {
      const requestId = crypto.randomUUID();
      otherRequest = crypto.randomUUID();
      await recordRequest(busy.projectId, requestId, 1);
      await recordRequest(other.projectId, otherRequest, 1);
      await spendPace(busy.projectId);
      const result = await deliver([
        chunkOf(busy.projectId, requestId, `busy-member-${attempt}`),
        chunkOf(other.projectId, otherRequest, "other-member"),
      ]);
      if ((await recorded(requestId)) === 0) deferred = { requestId, member: `busy-member-${attempt}`, result };
    }
    if (!deferred) throw new Error("the busy project's chunk was never deferred");

    // Both messages are acknowledged: the deferred chunk went back on the queue as a new
    // message (its attempts kept for failures), nothing was retried or dead-lettered.
    expect(deferred.result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(deferred.result.retryMessages).toEqual([]);
    expect(await statusOf(busy, deferred.requestId)).toMatchObject({ status: "pending", applied: 0 });
    expect((await profileBy(busy, { custom_id: deferred.member })).status).toBe(404);

    // The other project's chunk ran at once.
    expect(await statusOf(other, otherRequest)).toMatchObject({ status: "done", applied: 1 });
    expect((await profileBy(other, { custom_id: "other-member" })).body?.attributes.paced?.value).toBe(true);

    // In a later window the deferred chunk comes back and is applied: delayed, not lost, not failed.
    expect(await settled(busy, deferred.requestId, 60_000)).toMatchObject({ status: "done", applied: 1, errors: [] });
    expect((await profileBy(busy, { custom_id: deferred.member })).body?.attributes.paced?.value).toBe(true);
  }, 120_000);

  it("retries a deferred chunk later when it cannot be put back on the queue, without applying it", async () => {
    const busy = await createProject();
    const failingSend = {
      ...env,
      TASKS: {
        send: () => Promise.reject(new Error("Queue send failed: service unavailable")),
        sendBatch: () => Promise.reject(new Error("Queue send failed: service unavailable")),
      } as unknown as Queue,
    } as Env;
    let result: Awaited<ReturnType<typeof deliver>> | null = null;
    let requestId = "";
    for (let attempt = 0; attempt < 3 && !result; attempt++) {
      requestId = crypto.randomUUID();
      await recordRequest(busy.projectId, requestId, 1);
      await spendPace(busy.projectId);
      const delivered = await deliver([chunkOf(busy.projectId, requestId, "unsent-member")], failingSend);
      if ((await recorded(requestId)) === 0) result = delivered;
    }
    if (!result) throw new Error("the chunk was never deferred");
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "m0" }]);
    expect(await statusOf(busy, requestId)).toMatchObject({ status: "pending", applied: 0 });
  });
});

describe("a deferred chunk's deferrals", () => {
  /**
   * Delivers `body` while its project's budget is spent. The budget is a binding that refuses,
   * as a spent one does: spending the real one takes thousands of calls, and on a loaded
   * machine its window can turn under them and let the chunk through. The real bindings'
   * refusals are exercised above.
   */
  async function deliverOverPace(body: ProfileOpsMessage, taskEnv: Env) {
    const spent = { limit: async () => ({ success: false }) } as unknown as RateLimit;
    return deliver([body], { ...taskEnv, MASS_UPDATE_PACE: spent } as Env);
  }

  it("counts each deferral on the re-sent chunk, apart from its retries", async () => {
    const busy = await createProject();
    const requestId = crypto.randomUUID();
    await recordRequest(busy.projectId, requestId, 1);
    const sent: ProfileOpsMessage[] = [];
    const capturing = {
      ...env,
      TASKS: {
        send: async (body: ProfileOpsMessage) => {
          sent.push(body);
        },
      } as unknown as Queue,
    } as Env;
    const chunk = { ...chunkOf(busy.projectId, requestId, "counted-member"), deferrals: 4 };
    const result = await deliverOverPace(chunk, capturing);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(sent.at(-1)?.deferrals).toBe(5);
    expect(await recorded(requestId)).toBe(0);
  });

  it(`runs a chunk deferred ${MAX_DEFERRALS} times whatever the pace, so no chunk is re-sent forever`, async () => {
    const busy = await createProject();
    const requestId = crypto.randomUUID();
    await recordRequest(busy.projectId, requestId, 1);
    const sent: unknown[] = [];
    const capturing = {
      ...env,
      TASKS: { send: async (body: unknown) => void sent.push(body) } as unknown as Queue,
    } as Env;
    const chunk = { ...chunkOf(busy.projectId, requestId, "waited-member"), deferrals: MAX_DEFERRALS };
    const result = await deliverOverPace(chunk, capturing);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(sent).toEqual([]);
    expect(await statusOf(busy, requestId)).toMatchObject({ status: "done", applied: 1 });
    expect((await profileBy(busy, { custom_id: "waited-member" })).body?.attributes.paced?.value).toBe(true);
  });
});
