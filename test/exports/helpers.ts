import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { adminHeaders, call, type Project, restHeaders } from "../support/harness";

/** The UTC day before `now`, and the day after it (today). */
export function days(now = new Date()) {
  const day = new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
  return { day, next: now.toISOString().slice(0, 10) };
}

/** Runs the daily exports of `date` through the admin job and waits for the project's files. */
export async function runDaily(p: Project, date: string, files = 3): Promise<string> {
  const res = await call("POST", "/v1/admin/jobs/daily_exports", { headers: adminHeaders, body: { date } });
  expect(res.status).toBe(202);
  const { job, request_id } = await res.json<{ job: string; request_id: string }>();
  expect(job).toBe("daily_exports");
  await vi.waitFor(
    async () => {
      const row = await env.DB.prepare("SELECT count(*) AS n FROM export_files WHERE project_id = ? AND job = ?")
        .bind(p.projectId, request_id)
        .first<{ n: number }>();
      if ((row?.n ?? 0) < files) throw new Error(`${row?.n ?? 0} of ${files} files written`);
    },
    { timeout: 20_000, interval: 100 },
  );
  return request_id;
}

/** Downloads one daily file through the API, as text. */
export async function download(p: Project, appId: string, kind: string, file: string): Promise<Response> {
  return call("GET", `/v1/exports/${appId}/${kind}/${file}`, { headers: restHeaders(p) });
}

export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs an on-demand export (`POST /v1/exports` with `body`), waits for its file and returns its text. */
export async function onDemandExport(p: Project, body: unknown): Promise<string> {
  const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body });
  expect(res.status).toBe(202);
  const { request_id } = await res.json<{ request_id: string }>();
  const key = await vi.waitFor(
    async () => {
      const status = await (await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(p) })).json<{
        status: string;
        file?: { key: string };
      }>();
      if (status.status !== "done" || !status.file) throw new Error(status.status);
      return status.file.key;
    },
    { timeout: 15_000, interval: 100 },
  );
  const file = await call("GET", `/v1/exports/${key}`, { headers: restHeaders(p) });
  expect(file.status).toBe(200);
  return file.text();
}
