import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "./support/harness";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KIB = 1024;

/**
 * Checks the SPEC §5 envelope down to its keys: `{error: {code, message, issues?, request_id}}`,
 * JSON, with `request_id` equal to the `X-Request-Id` header. Returns the error and the raw text.
 */
async function envelopeOf(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  const requestId = res.headers.get("X-Request-Id");
  expect(requestId).toMatch(UUID);
  const text = await res.clone().text();
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(typeof error.message).toBe("string");
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.request_id).toBe(requestId);
  const allowed = ["code", "message", "issues", "request_id"];
  for (const key of Object.keys(error)) expect(allowed).toContain(key);
  return { error, text };
}

let project: Project;

beforeAll(async () => {
  project = await createProject("ios");
});

describe("every response carries a request ID", () => {
  it("on success, a fresh one per request", async () => {
    const first = await call("GET", "/health");
    const second = await call("GET", `/v1/admin/projects/${project.projectId}`, { headers: adminHeaders });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const ids = [first.headers.get("X-Request-Id"), second.headers.get("X-Request-Id")];
    for (const id of ids) expect(id).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("on errors, the same one in the header and the body, fresh per request", async () => {
    const first = await envelopeOf(await call("GET", "/nope"), 404, "NOT_FOUND");
    const second = await envelopeOf(await call("GET", "/nope"), 404, "NOT_FOUND");
    expect(first.error.request_id).not.toBe(second.error.request_id);
  });
});

describe("the error envelope", () => {
  it("400 VALIDATION_FAILED lists each issue with its path and message", async () => {
    const res = await call("POST", "/v1/admin/projects", {
      headers: adminHeaders,
      body: { name: "", inactivity_days: 0 },
    });
    const { error } = await envelopeOf(res, 400, "VALIDATION_FAILED");
    expect(error.issues).toBeInstanceOf(Array);
    for (const issue of error.issues ?? []) {
      expect(Object.keys(issue).sort()).toEqual(["message", "path"]);
      expect(typeof issue.message).toBe("string");
    }
    expect(error.issues?.map((i) => i.path).sort()).toEqual(["inactivity_days", "name"]);
  });

  it("400 VALIDATION_FAILED on the SDK batch names the op's field by its dotted path", async () => {
    const res = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(project),
      body: { installation_id: crypto.randomUUID(), ops: [{ id: "1", type: "push_optin", opted_in: "yes" }] },
    });
    const { error } = await envelopeOf(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toContain("ops.0.opted_in");
  });

  it("400 on a malformed JSON body", async () => {
    const res = await call("POST", "/v1/admin/projects", { headers: adminHeaders, raw: "{" });
    const { error } = await envelopeOf(res, 400, "INVALID_JSON");
    expect(error.issues).toBeUndefined();
  });

  it("401 UNAUTHORIZED without a key, and no issues", async () => {
    const { error } = await envelopeOf(await call("GET", "/v1/profiles?custom_id=x"), 401, "UNAUTHORIZED");
    expect(error.issues).toBeUndefined();
  });

  it("403 FORBIDDEN for a key outside its scope", async () => {
    const res = await call("GET", `/v1/admin/projects/${project.projectId}`, { headers: restHeaders(project) });
    await envelopeOf(res, 403, "FORBIDDEN");
  });

  it("404 NOT_FOUND for an unknown route", async () => {
    const { error } = await envelopeOf(await call("GET", "/v1/nowhere"), 404, "NOT_FOUND");
    expect(error.message).toContain("/v1/nowhere");
  });

  it("404 NOT_FOUND for an unknown resource", async () => {
    const res = await call("GET", `/v1/admin/projects/${crypto.randomUUID()}`, { headers: adminHeaders });
    await envelopeOf(res, 404, "NOT_FOUND");
  });

  it("415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON", async () => {
    const res = await call("POST", "/v1/admin/projects", {
      headers: { ...adminHeaders, "Content-Type": "text/plain" },
      raw: '{"name":"P"}',
    });
    const { error } = await envelopeOf(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(error.message).toContain("Content-Type: application/json");
  });
});

describe("413 PAYLOAD_TOO_LARGE", () => {
  // Whitespace keeps the batch valid JSON and otherwise valid: only its size can refuse it.
  const paddedBatch = (installationId: string, bytes: number) =>
    JSON.stringify({ installation_id: installationId, ops: [] }) + " ".repeat(bytes);

  it("refuses an SDK batch over 512 KiB and creates no installation", async () => {
    const installationId = crypto.randomUUID();
    const res = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(project),
      raw: paddedBatch(installationId, 512 * KIB + 1),
    });
    const { error } = await envelopeOf(res, 413, "PAYLOAD_TOO_LARGE");
    expect(error.issues).toBeUndefined();

    const lookup = await call("GET", `/v1/profiles?installation_id=${installationId}`, {
      headers: restHeaders(project),
    });
    expect(lookup.status).toBe(404);
  });

  it("accepts the same batch just under the limit (control)", async () => {
    const res = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(project),
      raw: paddedBatch(crypto.randomUUID(), 500 * KIB),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  });

  it("refuses any other body over 1 MiB, and creates nothing", async () => {
    const count = () => env.DB.prepare("SELECT COUNT(*) AS n FROM projects").first<number>("n");
    const before = await count();
    const res = await call("POST", "/v1/admin/projects", {
      headers: adminHeaders,
      raw: JSON.stringify({ name: "Huge" }) + " ".repeat(1024 * KIB),
    });
    await envelopeOf(res, 413, "PAYLOAD_TOO_LARGE");
    expect(await count()).toBe(before);
  });
});

describe("500 INTERNAL_ERROR", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // Runs last in this file: it breaks this file's isolated D1 on purpose.
  it("answers a real internal failure with the request ID only, and logs the details", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
    await env.DB.exec("DROP TABLE apps");

    const res = await call("POST", `/v1/admin/projects/${project.projectId}/apps`, {
      headers: adminHeaders,
      body: { name: "Doomed", platform: "web" },
    });
    const { error, text } = await envelopeOf(res, 500, "INTERNAL_ERROR");
    expect(error.issues).toBeUndefined();
    expect(Object.keys(error).sort()).toEqual(["code", "message", "request_id"]);
    for (const leak of ["apps", "SQL", "sql", "at ", "stack", "no such table", "insert", "D1"]) {
      expect(text).not.toContain(leak);
    }

    // The details go to the log, tied to the same request ID, so an operator can find them.
    const line = logged.find((l) => l.includes(error.request_id));
    expect(line).toBeDefined();
    expect(line).toContain("apps");
  });
});
