import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  adminHeaders,
  call,
  createProject,
  errorOf,
  type Project,
  refusedRestCallers,
  restHeaders,
  sdkHeaders,
} from "../support/harness";
import { days, runDaily } from "./helpers";

const { day } = days();
let a: Project;
let b: Project;

beforeAll(async () => {
  a = await createProject("ios");
  b = await createProject("web");
  // Each project's app gets its three (header-only) files for the day.
  await runDaily(a, day);
  await runDaily(b, day);
}, 60_000);

async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect((await errorOf(res)).code).toBe(code);
}

describe("GET /v1/exports: listing", () => {
  it("lists the project's own files with their manifests, filtered by type and date", async () => {
    const res = await call("GET", "/v1/exports", { headers: restHeaders(a) });
    expect(res.status).toBe(200);
    const { files, next_cursor } = await res.json<{ files: Record<string, unknown>[]; next_cursor: null }>();
    expect(next_cursor).toBeNull();
    expect(files.map((f) => f.key)).toEqual([
      `${a.appId}/inapp_events/${day}.csv`,
      `${a.appId}/optin_users/${day}.csv`,
      `${a.appId}/push_events/${day}.csv`,
    ]);
    const header = "timestamp,installation_id,custom_id,event,campaign_token,transactional_token,error\r\n";
    const push = files.find((f) => f.type === "push_events");
    expect(push).toMatchObject({ app_id: a.appId, date: day, rows: 0, bytes: header.length });
    const manifest = await call("GET", `/v1/exports/${a.appId}/push_events/${day}.manifest.json`, {
      headers: restHeaders(a),
    });
    expect(await manifest.json()).toEqual({ rows: 0, bytes: header.length, sha256: push?.sha256 });

    const byType = await call("GET", "/v1/exports?type=optin_users", { headers: restHeaders(a) });
    expect((await byType.json<{ files: { type: string }[] }>()).files.map((f) => f.type)).toEqual(["optin_users"]);
    const otherDay = await call("GET", "/v1/exports?date=2020-01-01", { headers: restHeaders(a) });
    expect((await otherDay.json<{ files: unknown[] }>()).files).toEqual([]);
  });

  it("refuses bad filters with the fields named", async () => {
    for (const query of ["type=push", "date=2026-02-30", "date=yesterday", "cursor=nope"]) {
      const res = await call("GET", `/v1/exports?${query}`, { headers: restHeaders(a) });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.issues?.[0]?.path).toBe(query.split("=")[0]);
    }
  });
});

describe("GET /v1/exports/{app_id}/{kind}/{file}: download", () => {
  it("streams a file as CSV", async () => {
    const res = await call("GET", `/v1/exports/${a.appId}/inapp_events/${day}.csv`, { headers: restHeaders(a) });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect(await res.text()).toBe(
      "timestamp,installation_id,custom_id,event,campaign_token,event_var_1,event_var_2,event_var_3\r\n",
    );
  });

  it("answers 410 for a file past the project's export_retention_days, whether or not it is still stored", async () => {
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
    const key = `exports/${a.projectId}/${a.appId}/push_events/${old}.csv`;
    await env.EXPORTS.put(key, "timestamp\r\n");
    await refused(
      await call("GET", `/v1/exports/${a.appId}/push_events/${old}.csv`, { headers: restHeaders(a) }),
      410,
      "GONE",
    );
    await refused(
      await call("GET", `/v1/exports/${a.appId}/push_events/2020-01-01.csv`, { headers: restHeaders(a) }),
      410,
      "GONE",
    );
    await env.EXPORTS.delete(key);
  });

  it("answers 404 for a day with no file and 400 for a kind or file name it does not serve", async () => {
    const recent = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    await refused(
      await call("GET", `/v1/exports/${a.appId}/optin_users/${recent}.csv`, { headers: restHeaders(a) }),
      404,
      "NOT_FOUND",
    );
    for (const path of [
      `${a.appId}/pushes/${day}.csv`,
      `${a.appId}/push_events/${day}.txt`,
      `${a.appId}/push_events/${day}.csv.bak`,
      `not-an-app/push_events/${day}.csv`,
    ]) {
      await refused(await call("GET", `/v1/exports/${path}`, { headers: restHeaders(a) }), 400, "VALIDATION_FAILED");
    }
  });

  it("never reaches another project's file, whatever the path", async () => {
    const theirs = `${b.appId}/push_events/${day}.csv`;
    expect((await call("GET", `/v1/exports/${theirs}`, { headers: restHeaders(b) })).status).toBe(200);
    // B's app ID under A's key: looked up under A's project, so not found.
    await refused(await call("GET", `/v1/exports/${theirs}`, { headers: restHeaders(a) }), 404, "NOT_FOUND");
    const crafted = [
      `..%2F${b.projectId}%2F${theirs.replaceAll("/", "%2F")}`,
      `${a.appId}/push_events/..%2F..%2F..%2F${b.projectId}%2F${theirs.replaceAll("/", "%2F")}`,
      `${a.appId}/push_events/%2e%2e%2f%2e%2e%2f${b.appId}%2fpush_events%2f${day}.csv`,
      `${a.appId}%2F..%2F${b.appId}/push_events/${day}.csv`,
      `${a.appId}/push_events/${day}.csv%00`,
      `%252e%252e/${b.appId}/push_events/${day}.csv`,
    ];
    for (const path of crafted) {
      const res = await call("GET", `/v1/exports/${path}`, { headers: restHeaders(a) });
      expect([400, 404], path).toContain(res.status);
      expect((await errorOf(res)).code).toMatch(/VALIDATION_FAILED|NOT_FOUND/);
    }
  });

  describe.each(
    refusedRestCallers(
      () => a,
      () => b,
    ),
  )("refuses $name", ({ status, code, headers }) => {
    it("on the listing, a download and a manifest", async () => {
      await refused(await call("GET", "/v1/exports", { headers: headers() }), status, code);
      await refused(
        await call("GET", `/v1/exports/${a.appId}/push_events/${day}.csv`, { headers: headers() }),
        status,
        code,
      );
      await refused(
        await call("GET", `/v1/exports/${a.appId}/push_events/${day}.manifest.json`, { headers: headers() }),
        status,
        code,
      );
    });
  });
});

describe("POST /v1/admin/jobs/daily_exports", () => {
  it("refuses REST and SDK keys and a missing token, and queues nothing", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM export_files").first<{ n: number }>();
    const body = { date: "2021-01-01" };
    await refused(
      await call("POST", "/v1/admin/jobs/daily_exports", { headers: restHeaders(a), body }),
      403,
      "FORBIDDEN",
    );
    await refused(
      await call("POST", "/v1/admin/jobs/daily_exports", { headers: sdkHeaders(a), body }),
      403,
      "FORBIDDEN",
    );
    await refused(await call("POST", "/v1/admin/jobs/daily_exports", { body }), 401, "UNAUTHORIZED");
    const after = await env.DB.prepare("SELECT count(*) AS n FROM export_files").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("refuses a date that is not a calendar day, or an unknown field", async () => {
    for (const body of [{ date: "2026-02-30" }, { date: "20260101" }, { date: "2026-01-01", extra: 1 }]) {
      const res = await call("POST", "/v1/admin/jobs/daily_exports", { headers: adminHeaders, body });
      await refused(res, 400, "VALIDATION_FAILED");
    }
  });

  it("defaults to yesterday UTC when no date is given", async () => {
    const res = await call("POST", "/v1/admin/jobs/daily_exports", { headers: adminHeaders, body: {} });
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    const empty = await call("POST", "/v1/admin/jobs/daily_exports", { headers: adminHeaders });
    expect(empty.status).toBe(202);
    await vi.waitFor(
      async () => {
        const row = await env.DB.prepare("SELECT DISTINCT date FROM export_files WHERE job = ?")
          .bind(request_id)
          .first<{ date: string }>();
        expect(row?.date).toBe(day);
      },
      { timeout: 20_000, interval: 100 },
    );
  });
});
