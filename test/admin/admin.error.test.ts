import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, call, errorOf } from "../support/harness";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Calls the Worker and checks that the response carries a request ID, as every response must. */
async function send(...args: Parameters<typeof call>): Promise<Response> {
  const res = await call(...args);
  expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  return res;
}

async function rowCounts(): Promise<{ projects: number; apps: number }> {
  const [projects, apps] = await env.DB.batch<{ n: number }>([
    env.DB.prepare("SELECT COUNT(*) AS n FROM projects"),
    env.DB.prepare("SELECT COUNT(*) AS n FROM apps"),
  ]);
  return { projects: projects?.results[0]?.n ?? -1, apps: apps?.results[0]?.n ?? -1 };
}

/** Sends a request that must be refused, and checks that it wrote nothing to `projects` or `apps`. */
async function refused(...args: Parameters<typeof call>): Promise<Response> {
  const before = await rowCounts();
  const res = await send(...args);
  expect(await rowCounts()).toEqual(before);
  return res;
}

/** Asserts a 400 VALIDATION_FAILED envelope with an issue on each of `paths`. */
async function expectValidationFailed(res: Response, ...paths: string[]) {
  expect(res.status).toBe(400);
  const error = await errorOf(res);
  expect(error.code).toBe("VALIDATION_FAILED");
  expect(Array.isArray(error.issues)).toBe(true);
  expect(error.issues?.length).toBeGreaterThan(0);
  for (const issue of error.issues ?? []) {
    expect(typeof issue.path).toBe("string");
    expect(issue.message.length).toBeGreaterThan(0);
  }
  expect(error.issues?.map((i) => i.path)).toEqual(expect.arrayContaining(paths));
  return error;
}

let projectId: string;

beforeAll(async () => {
  const res = await call("POST", "/v1/admin/projects", { headers: adminHeaders, body: { name: "Existing" } });
  expect(res.status).toBe(201);
  projectId = (await res.json<{ project_id: string }>()).project_id;
});

describe("POST /v1/admin/projects: invalid input", () => {
  const cases: [string, unknown, string][] = [
    ["a missing name", {}, "name"],
    ["an empty name", { name: "" }, "name"],
    ["a name of only spaces", { name: "   " }, "name"],
    ["a name over 100 characters", { name: "x".repeat(101) }, "name"],
    ["a name that is not a string", { name: 42 }, "name"],
    ["inactivity_days of 0", { name: "P", inactivity_days: 0 }, "inactivity_days"],
    ["a fractional inactivity_days", { name: "P", inactivity_days: 1.5 }, "inactivity_days"],
    ["a string inactivity_days", { name: "P", inactivity_days: "x" }, "inactivity_days"],
    ["a negative inactivity_days", { name: "P", inactivity_days: -5 }, "inactivity_days"],
  ];

  it.each(cases)("refuses %s", async (_label, body, path) => {
    const res = await refused("POST", "/v1/admin/projects", { headers: adminHeaders, body });
    await expectValidationFailed(res, path);
  });

  it("accepts a name of exactly 100 characters (the limit is inclusive)", async () => {
    const res = await send("POST", "/v1/admin/projects", { headers: adminHeaders, body: { name: "x".repeat(100) } });
    expect(res.status).toBe(201);
  });

  it("refuses an unknown extra field, naming it", async () => {
    const res = await refused("POST", "/v1/admin/projects", {
      headers: adminHeaders,
      body: { name: "P", plan: "enterprise" },
    });
    await expectValidationFailed(res, "plan");
  });

  it("refuses a body that is not an object", async () => {
    const res = await refused("POST", "/v1/admin/projects", { headers: adminHeaders, body: ["P"] });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
  });

  it("refuses malformed JSON with INVALID_JSON", async () => {
    const res = await refused("POST", "/v1/admin/projects", { headers: adminHeaders, raw: '{"name": "P",' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("INVALID_JSON");
  });

  it("refuses a JSON body sent as text/plain with 415", async () => {
    const res = await refused("POST", "/v1/admin/projects", {
      headers: { ...adminHeaders, "Content-Type": "text/plain" },
      raw: JSON.stringify({ name: "P" }),
    });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("POST /v1/admin/projects/{project_id}/apps: invalid input", () => {
  const cases: [string, unknown, string][] = [
    ["an unknown platform", { name: "App", platform: "windows" }, "platform"],
    ["an upper-case platform", { name: "App", platform: "IOS" }, "platform"],
    ["a missing platform", { name: "App" }, "platform"],
    ["a missing name", { platform: "ios" }, "name"],
    ["an empty name", { name: "", platform: "ios" }, "name"],
    ["a name over 100 characters", { name: "x".repeat(101), platform: "ios" }, "name"],
  ];

  it.each(cases)("refuses %s", async (_label, body, path) => {
    const res = await refused("POST", `/v1/admin/projects/${projectId}/apps`, { headers: adminHeaders, body });
    await expectValidationFailed(res, path);
  });

  it("refuses an unknown extra field, naming it", async () => {
    const res = await refused("POST", `/v1/admin/projects/${projectId}/apps`, {
      headers: adminHeaders,
      body: { name: "App", platform: "ios", bundle_id: "com.example" },
    });
    await expectValidationFailed(res, "bundle_id");
  });

  it("refuses malformed JSON with INVALID_JSON", async () => {
    const res = await refused("POST", `/v1/admin/projects/${projectId}/apps`, {
      headers: adminHeaders,
      raw: "{platform: ios}",
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("INVALID_JSON");
  });

  it("refuses a JSON body sent as text/plain with 415", async () => {
    const res = await refused("POST", `/v1/admin/projects/${projectId}/apps`, {
      headers: { ...adminHeaders, "Content-Type": "text/plain" },
      raw: JSON.stringify({ name: "App", platform: "ios" }),
    });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("project_id in the path", () => {
  it.each(["not-a-uuid", "123", "6f1c2d0e-8a4b-4c1e-9f3a-0d2b7c9e1a55x"])("refuses GET of project %s", async (id) => {
    const res = await refused("GET", `/v1/admin/projects/${id}`, { headers: adminHeaders });
    await expectValidationFailed(res, "project_id");
  });

  it("refuses POST apps under a project_id that is not a UUID", async () => {
    const res = await refused("POST", "/v1/admin/projects/not-a-uuid/apps", {
      headers: adminHeaders,
      body: { name: "App", platform: "ios" },
    });
    await expectValidationFailed(res, "project_id");
  });

  it("answers 404 for GET of an unknown project", async () => {
    const res = await refused("GET", `/v1/admin/projects/${crypto.randomUUID()}`, { headers: adminHeaders });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("answers 404 for POST apps under an unknown project, and creates no app", async () => {
    const unknown = crypto.randomUUID();
    const res = await refused("POST", `/v1/admin/projects/${unknown}/apps`, {
      headers: adminHeaders,
      body: { name: "App", platform: "ios" },
    });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM apps WHERE project_id = ?")
      .bind(unknown)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});
