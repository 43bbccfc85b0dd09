import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
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
import { stagedEvents } from "../support/staged";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function rowCounts(): Promise<{ projects: number; apps: number; events: number }> {
  const [projects, apps] = await env.DB.batch<{ n: number }>([
    env.DB.prepare("SELECT COUNT(*) AS n FROM projects"),
    env.DB.prepare("SELECT COUNT(*) AS n FROM apps"),
  ]);
  return {
    projects: projects?.results[0]?.n ?? -1,
    apps: apps?.results[0]?.n ?? -1,
    events: (await stagedEvents(null)).length,
  };
}

/**
 * Sends a request that must be refused with `status` and `code`, and checks the envelope,
 * the request ID, and that nothing was written to D1.
 */
async function expectRefused(status: number, code: string, ...args: Parameters<typeof call>): Promise<void> {
  const before = await rowCounts();
  const res = await call(...args);
  expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  expect(await rowCounts()).toEqual(before);
}

/** The same key with its last character changed: same prefix, same project, wrong secret. */
function tamper(key: string): string {
  const last = key.at(-1);
  return `${key.slice(0, -1)}${last === "A" ? "B" : "A"}`;
}

/** Asserts that no profile holds `installationId` in project `p`: the refused batch created nothing. */
async function expectNoInstallation(p: Project, installationId: string) {
  const res = await call("GET", `/v1/profiles?installation_id=${installationId}`, { headers: restHeaders(p) });
  expect(res.status).toBe(404);
  expect((await errorOf(res)).code).toBe("NOT_FOUND");
}

let a: Project;
let b: Project;

beforeAll(async () => {
  a = await createProject("ios");
  b = await createProject("android");
});

const newProjectBody = { name: "Intruder" };

describe("admin routes", () => {
  it("refuse a request without Authorization (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/admin/projects", { body: newProjectBody });
    await expectRefused(401, "UNAUTHORIZED", "GET", `/v1/admin/projects/${a.projectId}`);
    await expectRefused(401, "UNAUTHORIZED", "POST", `/v1/admin/projects/${a.projectId}/apps`, {
      body: { name: "App", platform: "web" },
    });
  });

  it("refuse a wrong admin token (401)", async () => {
    const wrong = [`${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), "Bearer", ADMIN_TOKEN.toUpperCase()];
    for (const token of wrong) {
      await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/admin/projects", {
        headers: { Authorization: `Bearer ${token}` },
        body: newProjectBody,
      });
    }
  });

  it("refuse the admin token sent in another scheme (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/admin/projects", {
      headers: { Authorization: `Basic ${ADMIN_TOKEN}` },
      body: newProjectBody,
    });
  });

  it("refuse a project's REST API key as bearer (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "POST", "/v1/admin/projects", {
      headers: restHeaders(a),
      body: newProjectBody,
    });
    await expectRefused(403, "FORBIDDEN", "GET", `/v1/admin/projects/${a.projectId}`, { headers: restHeaders(a) });
    await expectRefused(403, "FORBIDDEN", "POST", `/v1/admin/projects/${a.projectId}/apps`, {
      headers: restHeaders(a),
      body: { name: "App", platform: "web" },
    });
  });

  it("refuse an SDK API key (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "POST", "/v1/admin/projects", {
      headers: sdkHeaders(a),
      body: newProjectBody,
    });
    await expectRefused(403, "FORBIDDEN", "POST", `/v1/admin/projects/${a.projectId}/apps`, {
      headers: sdkHeaders(a),
      body: { name: "App", platform: "web" },
    });
  });

  it("authenticate before validating, so an anonymous caller learns nothing about the input", async () => {
    await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/admin/projects", { body: { name: "" } });
    await expectRefused(401, "UNAUTHORIZED", "GET", "/v1/admin/projects/not-a-uuid");
    await expectRefused(401, "UNAUTHORIZED", "GET", `/v1/admin/projects/${crypto.randomUUID()}`);
  });

  it("admit the admin token (control for the refusals above)", async () => {
    const res = await call("GET", `/v1/admin/projects/${a.projectId}`, { headers: adminHeaders });
    expect(res.status).toBe(200);
  });
});

describe("REST routes", () => {
  const path = "/v1/profiles?custom_id=x";

  it("admit the project's own REST API key (control: the lookup runs and finds nothing)", async () => {
    const res = await call("GET", path, { headers: restHeaders(a) });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("refuse an SDK API key (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "GET", path, { headers: sdkHeaders(a) });
    await expectRefused(403, "FORBIDDEN", "GET", path, { headers: { ...sdkHeaders(a), "X-Project-Id": a.projectId } });
  });

  it("refuse project A's key with project B in X-Project-Id (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "GET", path, {
      headers: { Authorization: `Bearer ${a.restKey}`, "X-Project-Id": b.projectId },
    });
  });

  it("refuse project A's key with project B in X-Batch-Project (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "GET", path, {
      headers: { Authorization: `Bearer ${a.restKey}`, "X-Batch-Project": b.projectId },
    });
  });

  it("refuse a REST API key without a project header (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "GET", path, { headers: { Authorization: `Bearer ${a.restKey}` } });
  });

  it("refuse a missing key (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "GET", path, { headers: { "X-Project-Id": a.projectId } });
  });

  it("refuse a tampered REST API key (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "GET", path, {
      headers: { Authorization: `Bearer ${tamper(a.restKey)}`, "X-Project-Id": a.projectId },
    });
  });

  it("refuse a key minted for one project but presented with the ID of another swapped in (401)", async () => {
    const forged = a.restKey.replace(a.projectId, b.projectId);
    await expectRefused(401, "UNAUTHORIZED", "GET", path, {
      headers: { Authorization: `Bearer ${forged}`, "X-Project-Id": b.projectId },
    });
  });

  it("refuse the admin token as any wrong key (401)", async () => {
    await expectRefused(401, "UNAUTHORIZED", "GET", path, {
      headers: { ...adminHeaders, "X-Project-Id": a.projectId },
    });
  });
});

describe("SDK ingestion", () => {
  const batch = () => ({ installation_id: crypto.randomUUID(), ops: [] });

  it("admits the app's SDK key (control for the refusals below)", async () => {
    const res = await call("POST", "/v1/sdk/batch", { headers: sdkHeaders(a), body: batch() });
    expect(res.status).toBe(200);
  });

  it("refuses a batch without an SDK key (401) and creates no installation", async () => {
    const body = batch();
    await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/sdk/batch", { body });
    await expectNoInstallation(a, body.installation_id);
  });

  it("refuses a wrong SDK key (401) and creates no installation", async () => {
    const wrong = [tamper(a.sdkKey), "sdk_nope", a.sdkKey.replace(a.appId, crypto.randomUUID())];
    for (const key of wrong) {
      const body = batch();
      await expectRefused(401, "UNAUTHORIZED", "POST", "/v1/sdk/batch", { headers: { "X-Api-Key": key }, body });
      await expectNoInstallation(a, body.installation_id);
    }
  });

  it("refuses a REST API key as bearer (403) and creates no installation", async () => {
    const body = batch();
    await expectRefused(403, "FORBIDDEN", "POST", "/v1/sdk/batch", { headers: restHeaders(a), body });
    await expectNoInstallation(a, body.installation_id);
  });

  it("refuses the admin token as bearer (403)", async () => {
    await expectRefused(403, "FORBIDDEN", "POST", "/v1/sdk/batch", { headers: adminHeaders, body: batch() });
  });
});
