import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { dailyKey, manifestKey } from "../../src/exports/files";
import { profilesExportKey } from "../../src/exports/profiles-export";
import {
  expireExportCopies,
  RETENTION_SCANS,
  type RetentionProgress,
  retentionPaging,
} from "../../src/exports/retention";
import worker from "../../src/index";
import { archiveKey } from "../../src/privacy/store";
import { run } from "../privacy/support";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, identify } from "../support/identity";

const DAY_MS = 86_400_000;
const day = (now: Date, back: number) => new Date(now.getTime() - back * DAY_MS).toISOString().slice(0, 10);

/** The environment with the exports queue's sends kept instead of run. */
function keepingTasks(sent: ExportMessage[]): Env {
  const tasks = {
    send: async (body: ExportMessage) => {
      sent.push(body);
    },
    sendBatch: async (bodies: { body: ExportMessage }[]) => {
      sent.push(...bodies.map((b) => b.body));
    },
  } as unknown as Env["EXPORT_TASKS"];
  return { ...env, EXPORT_TASKS: tasks };
}

async function exported(p: Project): Promise<string> {
  const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body: { type: "profiles" } });
  expect(res.status).toBe(202);
  const { request_id } = await res.json<{ request_id: string }>();
  await vi.waitFor(
    async () => {
      const body = await (await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(p) })).json<{
        status: string;
      }>();
      if (body.status !== "done") throw new Error(body.status);
    },
    { timeout: 15_000, interval: 100 },
  );
  return request_id;
}

const getExport = (p: Project, id: string) =>
  call("GET", `/v1/exports/profiles/${id}.csv`, { headers: restHeaders(p) });

/** A daily file as the daily run leaves it: its CSV, its manifest and its row. */
async function dailyFile(p: Project, date: string) {
  const key = dailyKey(p.projectId, p.appId, "push_events", date);
  await env.EXPORTS.put(key, "timestamp\r\n");
  await env.EXPORTS.put(manifestKey(key), "{}");
  await env.DB.prepare(
    `INSERT INTO export_files (project_id, app_id, kind, date, rows, bytes, sha256, job, written_at)
     VALUES (?, ?, 'push_events', ?, 0, 11, 'x', 'job', ?)`,
  )
    .bind(p.projectId, p.appId, date, new Date().toISOString())
    .run();
  return key;
}

const stored = async (key: string) => (await env.EXPORTS.head(key)) !== null;

describe("an on-demand profile export", () => {
  it("answers 410 GONE after 7 days, and the retention run deletes it", async () => {
    const p = await createProject();
    const id = await exported(p);
    expect((await getExport(p, id)).status).toBe(200);
    // Made eight days ago.
    await env.DB.prepare("UPDATE requests SET created_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 8 * DAY_MS).toISOString(), id)
      .run();
    const gone = await getExport(p, id);
    expect(gone.status).toBe(410);
    expect((await gone.json<{ error: { code: string } }>()).error.code).toBe("GONE");
    expect(await stored(profilesExportKey(p.projectId, id))).toBe(true);

    await expireExportCopies(keepingTasks([]), new Date());
    expect(await stored(profilesExportKey(p.projectId, id))).toBe(false);
    expect((await getExport(p, id)).status).toBe(410);
    // The request still shows the file it wrote, without the run's own marks.
    const status = await (await call("GET", `/v1/requests/${id}`, { headers: restHeaders(p) })).json<{
      file: Record<string, unknown>;
    }>();
    expect(Object.keys(status.file).sort()).toEqual(["bytes", "key", "rows", "sha256"]);
  });

  it("younger than 7 days is kept", async () => {
    const p = await createProject();
    const id = await exported(p);
    await expireExportCopies(keepingTasks([]), new Date());
    expect(await stored(profilesExportKey(p.projectId, id))).toBe(true);
    expect((await getExport(p, id)).status).toBe(200);
  });
});

describe("daily files past the project's export_retention_days", () => {
  it("are deleted by the daily cron, a bounded page at a time, the rest through the queue", async () => {
    const p = await createProject();
    await env.DB.prepare("UPDATE projects SET export_retention_days = 3 WHERE id = ?").bind(p.projectId).run();
    const now = new Date();
    const expired = await Promise.all([4, 5, 6, 7, 8].map((back) => dailyFile(p, day(now, back))));
    const kept = await Promise.all([1, 2, 3].map((back) => dailyFile(p, day(now, back))));

    const paging = { ...retentionPaging };
    Object.assign(retentionPaging, { rows: 2, pages: 1 });
    const sent: ExportMessage[] = [];
    try {
      // The cron's run: one page, the rest queued.
      const ctx = createExecutionContext();
      await worker.scheduled?.(
        createScheduledController({ cron: "0 2 * * *", scheduledTime: now.getTime() }),
        keepingTasks(sent),
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect((await Promise.all(expired.map(stored))).filter((s) => !s)).toHaveLength(2);
      let next = sent.find((m) => m.type === "expire_copies") as RetentionProgress | undefined;
      expect(next).toBeDefined();
      for (let k = 0; next && k < 10; k++) {
        next = (await expireExportCopies(keepingTasks([]), now, next)) ?? undefined;
      }
      expect(next).toBeUndefined();
    } finally {
      Object.assign(retentionPaging, paging);
    }
    for (const key of expired) {
      expect(await stored(key)).toBe(false);
      expect(await stored(manifestKey(key))).toBe(false);
    }
    for (const key of kept) expect(await stored(key)).toBe(true);
    const { results } = await env.DB.prepare("SELECT date FROM export_files WHERE project_id = ? ORDER BY date")
      .bind(p.projectId)
      .all<{ date: string }>();
    expect(results.map((r) => r.date)).toEqual([3, 2, 1].map((back) => day(now, back)));
  });
});

describe("a review archive", () => {
  it("past its 7 days is deleted by the retention run, and answers 410 GONE as expired", async () => {
    const p = await createProject();
    await batch(p, crypto.randomUUID(), [identify("reviewed-1")]);
    const review = await run(p, { type: "review", identifier: { type: "custom_id", value: "reviewed-1" } });
    const key = archiveKey(p.projectId, review.request_id);
    await expireExportCopies(keepingTasks([]), new Date());
    expect(await stored(key)).toBe(true);
    await env.DB.prepare("UPDATE privacy_requests SET completed_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 8 * DAY_MS).toISOString(), review.request_id)
      .run();
    await expireExportCopies(keepingTasks([]), new Date());
    expect(await stored(key)).toBe(false);
    const res = await call("GET", `/v1/privacy/requests/${review.request_id}/archive`, { headers: restHeaders(p) });
    expect(res.status).toBe(410);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain("kept 7 days");
  });
});

describe("half-built exports-work/ runs", () => {
  it("older than 7 days are deleted; younger ones are left to finish", async () => {
    const job = crypto.randomUUID();
    const key = `exports-work/${job}/app/push_events/03.csv`;
    await env.EXPORTS.put(key, "x");
    await expireExportCopies(keepingTasks([]), new Date(Date.now() + 6 * DAY_MS));
    expect(await stored(key)).toBe(true);
    // Eight days on, by the run's own clock.
    await expireExportCopies(keepingTasks([]), new Date(Date.now() + 8 * DAY_MS));
    expect(await stored(key)).toBe(false);
  });
});

describe("the retention run's scans", () => {
  it("each read a partial index of what is left to delete, not the whole table", async () => {
    for (const [scan, index] of [
      [RETENTION_SCANS.profileExports, "requests_export_expiry_idx"],
      [RETENTION_SCANS.reviewArchives, "privacy_requests_archive_expiry_idx"],
    ] as const) {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${scan}`)
        .bind(new Date().toISOString(), 100)
        .all<{ detail: string }>();
      expect(results.map((r) => r.detail).join("; ")).toContain(`USING INDEX ${index}`);
    }
  });
});
