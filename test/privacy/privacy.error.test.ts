import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { batch, identify } from "../support/identity";
import { archiveOf, run } from "./support";

let p: Project;
beforeAll(async () => {
  p = await createProject();
});

async function requestCount(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM privacy_requests WHERE project_id = ?")
    .bind(p.projectId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

async function refused(body: unknown, status: number, code: string, path?: string) {
  const before = await requestCount();
  const res = await call("POST", "/v1/privacy/requests", { headers: restHeaders(p), body });
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  if (path) expect(error.issues?.map((i) => i.path)).toContain(path);
  expect(await requestCount()).toBe(before);
  return error;
}

describe("privacy requests: errors", () => {
  it("refuses an installation ID whose profile holds a custom ID with 409 CUSTOM_ID_REQUIRED", async () => {
    const device = crypto.randomUUID();
    await batch(p, device, [identify("signed-in-user")]);
    for (const type of ["review", "remove"]) {
      const error = await refused(
        { type, identifier: { type: "installation_id", value: device } },
        409,
        "CUSTOM_ID_REQUIRED",
      );
      expect(error.message).toContain("custom ID");
      await refused({ request_type: type, id: { type: "installation_id", value: device } }, 409, "CUSTOM_ID_REQUIRED");
    }
    // By its custom ID the same profile is reachable.
    const done = await run(p, { type: "review", identifier: { type: "custom_id", value: "signed-in-user" } });
    expect(done.status).toBe("done");
    expect(done.error).toBeUndefined();
  });

  it.each([
    [{ type: "export", identifier: { type: "custom_id", value: "x1" } }, "type"],
    [{ type: "review", identifier: { type: "email", value: "a@b.co" } }, "identifier.type"],
    [{ type: "review" }, "identifier"],
    [{ type: "review", identifier: { type: "custom_id", value: "x1" }, extra: 1 }, "extra"],
    [{ type: "review", identifier: { type: "custom_id", value: "x1" }, callback_url: "not a url" }, "callback_url"],
    [
      { type: "review", identifier: { type: "custom_id", value: "x1" }, callback_url: "http://example.com/cb" },
      "callback_url",
    ],
    [{ type: "review", identifier: { type: "installation_id", value: "not-a-uuid" } }, "identifier.value"],
    [{ request_type: "remove", id: { type: "installation_id", value: "nope" } }, "id.value"],
  ])("refuses %j (names %s) and writes nothing", async (body, path) => {
    await refused(body, 400, "VALIDATION_FAILED", path);
  });

  it("refuses a placeholder custom ID with INVALID_CUSTOM_ID", async () => {
    await refused({ type: "remove", identifier: { type: "custom_id", value: "undefined" } }, 400, "INVALID_CUSTOM_ID");
  });

  it("refuses malformed JSON", async () => {
    const res = await call("POST", "/v1/privacy/requests", { headers: restHeaders(p), raw: "{" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("INVALID_JSON");
  });

  it("answers 404 for an unknown request and for the archive of a remove", async () => {
    const res = await call("GET", `/v1/privacy/requests/${crypto.randomUUID()}`, { headers: restHeaders(p) });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
    const device = crypto.randomUUID();
    await batch(p, device, []);
    const removed = await run(p, { type: "remove", identifier: { type: "installation_id", value: device } });
    expect(removed.status).toBe("done");
    expect((await archiveOf(p, removed.request_id)).status).toBe(404);
  });

  it("refuses a request ID that is not a UUID", async () => {
    const res = await call("GET", "/v1/privacy/requests/nope", { headers: restHeaders(p) });
    expect(res.status).toBe(400);
  });
});
