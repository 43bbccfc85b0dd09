import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { EXPORTS_DLQ } from "../../src/exports/exports.consumer";
import { PRIVACY_DLQ } from "../../src/privacy/messages";
import { EVENTS_DLQ, PROJECTION_DLQ, TASKS_DLQ } from "../../src/queue/consumer";
import type { ProjectionMessage } from "../../src/queue/messages";
import {
  ADMIN_TOKEN,
  adminHeaders,
  call,
  createProject,
  errorOf,
  type Project,
  restHeaders,
  sdkHeaders,
} from "../support/harness";
import { deliverTo } from "../support/queues";

interface DeadLetters {
  queues: { queue: string; replayed: number; recorded: number; last_at: string | null }[];
  recent: { queue: string; message_id: string; project_id: string | null; outcome: string; error: string | null }[];
}

async function deadLetterCount() {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM dead_letters").first<{ n: number }>())?.n;
}

describe("GET /v1/admin/dead-letters", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
    const poison = { type: "profile_changed", project_id: p.projectId, profile_id: "x" } as ProjectionMessage;
    // An installation no SDK ever sent: replaying "re-read it" projects nothing, and succeeds.
    const harmless: ProjectionMessage = {
      type: "installation_changed",
      project_id: p.projectId,
      installation_id: crypto.randomUUID(),
    };
    await deliverTo(PROJECTION_DLQ, [harmless, poison, poison], { prefix: "listed-" });
  });

  it("reports each dead-letter queue's counts and the most recent messages", async () => {
    const res = await call("GET", "/v1/admin/dead-letters", { headers: adminHeaders });
    expect(res.status).toBe(200);
    const body = await res.json<DeadLetters>();
    expect(body.queues.map((q) => q.queue).sort()).toEqual(
      [EVENTS_DLQ, PROJECTION_DLQ, TASKS_DLQ, PRIVACY_DLQ, EXPORTS_DLQ].sort(),
    );
    expect(body.queues.find((q) => q.queue === PROJECTION_DLQ)).toMatchObject({ replayed: 1, recorded: 2 });
    expect(body.queues.find((q) => q.queue === EVENTS_DLQ)).toEqual({
      queue: EVENTS_DLQ,
      replayed: 0,
      recorded: 0,
      last_at: null,
    });
    expect(body.recent.map((r) => r.message_id).sort()).toEqual(["listed-0", "listed-1", "listed-2"]);
    expect(body.recent.find((r) => r.message_id === "listed-1")).toMatchObject({
      queue: PROJECTION_DLQ,
      project_id: p.projectId,
      outcome: "recorded",
    });
  });

  it("filters by queue and outcome, and bounds the list", async () => {
    const res = await call("GET", `/v1/admin/dead-letters?queue=${PROJECTION_DLQ}&outcome=recorded&limit=1`, {
      headers: adminHeaders,
    });
    expect(res.status).toBe(200);
    const body = await res.json<DeadLetters>();
    expect(body.queues.map((q) => q.queue)).toEqual([PROJECTION_DLQ]);
    expect(body.recent).toHaveLength(1);
    expect(body.recent[0]?.outcome).toBe("recorded");
  });

  it.each([
    ["an unknown queue", "queue=edge-cdp-elsewhere", "queue"],
    ["an unknown outcome", "outcome=lost", "outcome"],
    ["a limit out of range", "limit=0", "limit"],
    ["an unknown parameter", "project=x", "project"],
  ])("refuses %s with 400 VALIDATION_FAILED, writing nothing", async (_name, query, path) => {
    const before = await deadLetterCount();
    const res = await call("GET", `/v1/admin/dead-letters?${query}`, { headers: adminHeaders });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toContain(path);
    expect(await deadLetterCount()).toBe(before);
  });

  it.each([
    ["no token", 401, "UNAUTHORIZED", () => ({})],
    ["a wrong admin token", 401, "UNAUTHORIZED", () => ({ Authorization: `Bearer ${ADMIN_TOKEN}x` })],
    ["a project's REST key", 403, "FORBIDDEN", () => restHeaders(p)],
    ["an SDK key", 403, "FORBIDDEN", () => sdkHeaders(p)],
  ])("refuses %s", async (_name, status, code, headers) => {
    const res = await call("GET", "/v1/admin/dead-letters", { headers: headers() });
    expect(res.status).toBe(status);
    expect((await errorOf(res)).code).toBe(code);
  });
});
