import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXPORTS_DLQ } from "../../src/exports/exports.consumer";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { PRIVACY_DLQ } from "../../src/privacy/messages";
import type { PurgeMessage } from "../../src/purge/purge";
import { adminHeaders, call, createProject, type Project, restHeaders } from "../support/harness";
import { deadLetter, deliverTo } from "../support/queues";

/*
 * Whatever reaches a dead-letter queue ends somewhere a caller or an operator can see: its
 * request or job says `failed`, `GET /v1/admin/dead-letters` lists it, and no log line carries
 * the identifiers it held.
 */

const SECRET_CUSTOM_ID = "dlq-secret-alice@example.com";

/** Everything the Worker logged while `fn` ran. */
async function logged(fn: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  const spies = [
    vi.spyOn(console, "error").mockImplementation(capture),
    vi.spyOn(console, "warn").mockImplementation(capture),
    vi.spyOn(console, "log").mockImplementation(capture),
  ];
  try {
    await fn();
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return lines.join("\n");
}

afterEach(() => vi.restoreAllMocks());

/** A request held pending, as one whose every attempt failed would be. */
async function privacyRequest(p: Project, value: string): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO privacy_requests (id, project_id, type, identifier_type, identifier_value, status, created_at)
     VALUES (?, ?, 'review', 'custom_id', ?, 'pending', ?)`,
  )
    .bind(id, p.projectId, value, new Date().toISOString())
    .run();
  return id;
}

async function privacyStatus(p: Project, id: string) {
  const res = await call("GET", `/v1/privacy/requests/${id}`, { headers: restHeaders(p) });
  return res.json<{ status: string; error?: string }>();
}

async function listed(queue: string) {
  const res = await call("GET", `/v1/admin/dead-letters?queue=${queue}&limit=500`, { headers: adminHeaders });
  expect(res.status).toBe(200);
  return res.json<{
    queues: { queue: string; recorded: number }[];
    recent: { message_id: string; outcome: string; error: string | null; project_id: string | null }[];
  }>();
}

describe("the privacy dead-letter queue", () => {
  it("ends each request failed on its own: one message that cannot be handled does not hold back the others", async () => {
    const p = await createProject();
    const good = await privacyRequest(p, "dlq-good");
    // A body the consumer cannot even look up (no request ID): D1 refuses the query.
    const broken = { type: "privacy_request", project_id: p.projectId } as unknown as PurgeMessage;
    const result = await deliverTo(
      PRIVACY_DLQ,
      [broken, { type: "privacy_request", project_id: p.projectId, request_id: good }],
      { prefix: "privacy-each-" },
    );
    expect(result.explicitAcks).toContain("privacy-each-1");
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(["privacy-each-0"]);
    expect(await privacyStatus(p, good)).toMatchObject({ status: "failed", error: "internal" });
    expect(await deadLetter(PRIVACY_DLQ, "privacy-each-1")).toMatchObject({
      outcome: "recorded",
      project_id: p.projectId,
    });
  });

  it("lists the privacy dead letters among the queues it reports", async () => {
    const p = await createProject();
    const id = await privacyRequest(p, "dlq-listed");
    await deliverTo(PRIVACY_DLQ, [{ type: "privacy_request", project_id: p.projectId, request_id: id }], {
      prefix: "privacy-listed-",
    });
    const body = await listed(PRIVACY_DLQ);
    expect(body.queues.map((q) => q.queue)).toEqual([PRIVACY_DLQ]);
    expect(body.recent.find((r) => r.message_id === "privacy-listed-0")).toMatchObject({
      outcome: "recorded",
      project_id: p.projectId,
    });
  });

  it("ends a purge whose page failed every retry `failed`, records the page, and logs no identifier", async () => {
    const p = await createProject();
    const jobId = crypto.randomUUID();
    const page: PurgeMessage = {
      type: "purge_profiles",
      job_id: jobId,
      project_id: p.projectId,
      kind: "inactive",
      cursor: null,
      through: "z",
      resume: {
        part: 1,
        rows: [
          {
            profileId: crypto.randomUUID(),
            customId: SECRET_CUSTOM_ID,
            holderKind: "custom_id",
            holderId: SECRET_CUSTOM_ID,
          },
        ],
      },
    };
    const now = new Date().toISOString();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO purge_jobs (id, as_of, dry_run, origin, created_at) VALUES (?, ?, 0, 'admin', ?)",
      ).bind(jobId, now, now),
      env.DB.prepare("INSERT INTO purge_pages (job_id, page, done) VALUES (?, ?, 0)").bind(
        jobId,
        `${p.projectId}:inactive:..z#1`,
      ),
    ]);
    const logs = await logged(() => deliverTo(PRIVACY_DLQ, [page], { prefix: "purge-page-" }));
    expect(logs).not.toContain(SECRET_CUSTOM_ID);

    const res = await call("GET", `/v1/admin/jobs/purge/${jobId}`, { headers: adminHeaders });
    expect(res.status).toBe(200);
    const job = await res.json<{ status: string; error?: string }>();
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(/1 page/);
    expect(await deadLetter(PRIVACY_DLQ, "purge-page-0")).toMatchObject({ outcome: "recorded" });
    expect((await listed(PRIVACY_DLQ)).recent.map((r) => r.message_id)).toContain("purge-page-0");
  });
});

describe("the exports dead-letter queue", () => {
  it("ends an on-demand export failed and records it", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body: { type: "profiles" } });
    const { request_id } = await res.json<{ request_id: string }>();
    const body: ExportMessage = {
      type: "profiles_export",
      request_id,
      project_id: p.projectId,
      where: { attribute: "email", op: "eq", value: SECRET_CUSTOM_ID },
      fields: ["custom_id"],
    };
    // The queued message may run first and finish the export: this one is about the failure.
    await env.DB.prepare("DELETE FROM request_chunks WHERE request_id = ?").bind(request_id).run();
    const logs = await logged(() => deliverTo(EXPORTS_DLQ, [body], { prefix: "export-dead-" }));
    expect(logs).not.toContain(SECRET_CUSTOM_ID);
    const status = await (await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(p) })).json<{
      status: string;
    }>();
    expect(status.status).toBe("failed");
    expect(await deadLetter(EXPORTS_DLQ, "export-dead-0")).toMatchObject({
      outcome: "recorded",
      project_id: p.projectId,
    });
    expect((await listed(EXPORTS_DLQ)).recent.map((r) => r.message_id)).toContain("export-dead-0");
  });

  it("records a daily piece that failed every retry", async () => {
    const p = await createProject();
    const piece: ExportMessage = {
      type: "daily_hour",
      job: crypto.randomUUID(),
      project_id: p.projectId,
      app_id: crypto.randomUUID(),
      date: "2026-01-01",
      hour: 3,
    };
    const result = await deliverTo(EXPORTS_DLQ, [piece], { prefix: "daily-dead-" });
    expect(result.explicitAcks).toEqual(["daily-dead-0"]);
    expect(await deadLetter(EXPORTS_DLQ, "daily-dead-0")).toMatchObject({
      outcome: "recorded",
      project_id: p.projectId,
    });
  });
});
