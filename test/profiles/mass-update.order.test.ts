import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { planChunks, refuseOversized } from "../../src/profiles/mass-update";
import { validateOperations } from "../../src/profiles/operations";
import { BASE, call, createProject, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";

interface RequestStatus {
  status: "pending" | "done" | "failed";
  total: number;
  applied: number;
  errors: { bulk_index: number; category: string }[];
}

async function settled(p: Project, id: string): Promise<RequestStatus> {
  return vi.waitFor(
    async () => {
      const res = await call("GET", `/v1/requests/${id}`, { headers: restHeaders(p) });
      const body = await res.json<RequestStatus>();
      if (body.status === "pending") throw new Error(`still pending: ${body.applied}/${body.total}`);
      return body;
    },
    { timeout: 30_000, interval: 100 },
  );
}

describe("mass updates keep one identifier's operations in request order", () => {
  it("ends a counter set 150 times on one custom ID at the last value", async () => {
    const p = await createProject();
    const operations = Array.from({ length: 150 }, (_, k) => ({
      identifiers: { custom_id: "counted" },
      attributes: { counter: k },
    }));
    const res = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body: operations });
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    expect(await settled(p, request_id)).toMatchObject({ status: "done", total: 150, applied: 150, errors: [] });
    expect((await profileBy(p, { custom_id: "counted" })).body?.attributes.counter?.value).toBe(149);
  });

  it("packs small identifiers together and never splits one identifier's operations", () => {
    const raw = [
      ...Array.from({ length: 250 }, (_, k) => ({ identifiers: { custom_id: "big" }, attributes: { n: k } })),
      ...Array.from({ length: 150 }, (_, k) => ({
        identifiers: { custom_id: `small-${k % 15}` },
        attributes: { n: k },
      })),
    ];
    const { valid } = validateOperations(raw, Date.now());
    const chunks = planChunks(refuseOversized(valid).fits);
    // "big" is one stored chunk; the small identifiers (10 operations each) are packed whole.
    expect(chunks.map((c) => [c.items.length, c.stored])).toEqual([
      [250, true],
      [100, false],
      [50, false],
    ]);
    for (const chunk of chunks.slice(1)) {
      const ids = new Set(chunk.items.map((i) => i.op.identifier.value));
      const inChunk = new Set(chunk.items.map((i) => i.bulk_index));
      for (const id of ids)
        expect(valid.filter((v) => v.op.identifier.value === id).every((v) => inChunk.has(v.bulk_index))).toBe(true);
    }
  });
});

describe("a mass update whose later chunks cannot be queued", () => {
  it("still answers with its request ID and reports the unsent chunks' operations as internal errors", async () => {
    const p = await createProject();
    // Four operations of about 60 KB each: one chunk each, sent in two groups.
    const pad = "x".repeat(250);
    const operations = Array.from({ length: 4 }, (_, k) => ({
      identifiers: { custom_id: `heavy-${k}` },
      events: Array.from({ length: 12 }, () => ({
        name: "imported",
        attributes: Object.fromEntries(Array.from({ length: 20 }, (_, a) => [`a${a}`, pad])),
      })),
    }));
    // The queue accepts the first send, then becomes unavailable.
    let sends = 0;
    const tasks = {
      send: env.TASKS.send.bind(env.TASKS),
      sendBatch: (messages: Parameters<Queue["sendBatch"]>[0]) => {
        sends += 1;
        if (sends === 1) return env.TASKS.sendBatch(messages);
        return Promise.reject(new Error("Queue send failed: service unavailable"));
      },
    };
    const ctx = createExecutionContext();
    const res = await worker.fetch?.(
      new Request(`${BASE}/v1/profiles/mass-update`, {
        method: "POST",
        headers: { ...restHeaders(p), "Content-Type": "application/json" },
        body: JSON.stringify(operations),
      }) as Request<unknown, IncomingRequestCfProperties>,
      { ...env, TASKS: tasks as unknown as Queue },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    if (!res) throw new Error("no response");
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    expect(sends).toBeGreaterThan(1);
    const status = await settled(p, request_id);
    expect(status.status).toBe("failed");
    expect(status.applied + status.errors.length).toBe(4);
    expect(status.applied).toBeGreaterThan(0);
    expect(status.errors.every((e) => e.category === "internal")).toBe(true);
  });
});
