import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  call,
  createProject,
  errorOf,
  type Project,
  refusedRestCallers,
  restHeaders,
  sdkHeaders,
} from "../support/harness";
import { profileBy } from "../support/identity";

let a: Project;
let b: Project;

beforeAll(async () => {
  a = await createProject();
  b = await createProject();
});

let counter = 0;
const freshId = (label: string) => `sec-${label}-${++counter}`;

async function requestRows(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM requests").first<{ n: number }>();
  return row?.n ?? -1;
}

/** No profile holds `customId` in either project: the refused write created nothing. */
async function expectNoProfile(customId: string) {
  expect((await profileBy(a, { custom_id: customId })).status).toBe(404);
  expect((await profileBy(b, { custom_id: customId })).status).toBe(404);
}

const WRITE_PATHS = ["/v1/profiles/update", "/2.3/profiles/update", "/v1/profiles/mass-update"] as const;

/** Who calls, with which headers; each must be refused with the given status and code. */
const refusedCallers = refusedRestCallers(
  () => b,
  () => a,
);

async function expectRefused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(error.issues).toBeUndefined();
}

describe.each(WRITE_PATHS)("POST %s refuses callers without project A's REST key", (path) => {
  it.each(refusedCallers)("$name: $status $code, and nothing is written", async ({ status, code, headers }) => {
    const customId = freshId("refused");
    const before = await requestRows();
    const res = await call("POST", path, {
      headers: headers(),
      body: [{ identifiers: { custom_id: customId }, attributes: { tier: "gold" }, events: [{ name: "e" }] }],
    });
    await expectRefused(res, status, code);
    expect(await requestRows()).toBe(before);
    await expectNoProfile(customId);
  });

  it("refuses before reading the body: a refused caller with an invalid body still gets the auth error", async () => {
    const before = await requestRows();
    const res = await call("POST", path, { headers: sdkHeaders(a), raw: "{not json" });
    await expectRefused(res, 403, "FORBIDDEN");
    expect(await requestRows()).toBe(before);
  });
});

describe("GET /v1/requests/{request_id}", () => {
  let requestId: string;
  const customId = "mass-a";

  beforeAll(async () => {
    const res = await call("POST", "/v1/profiles/mass-update", {
      headers: restHeaders(a),
      body: [{ identifiers: { custom_id: customId }, attributes: { tier: "gold" } }],
    });
    expect(res.status).toBe(202);
    requestId = (await res.json<{ request_id: string }>()).request_id;
    // Let the queue apply it, so nothing is left running when the file ends.
    await vi.waitFor(
      async () => {
        const status = await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(a) });
        expect((await status.json<{ status: string }>()).status).toBe("done");
      },
      { timeout: 15_000, interval: 100 },
    );
  });

  it("answers project A, which created the request (control)", async () => {
    const res = await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(a) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ request_id: requestId, status: "done", total: 1, applied: 1 });
    expect((await profileBy(a, { custom_id: customId })).body?.attributes.tier?.value).toBe("gold");
  });

  it("is 404 to project B with its own valid key, as if the request did not exist", async () => {
    const res = await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(b) });
    await expectRefused(res, 404, "NOT_FOUND");
    // B does not see A's profile either.
    expect((await profileBy(b, { custom_id: customId })).status).toBe(404);
  });

  it("answers B the same for A's request and for an ID that never existed", async () => {
    const theirs = await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(b) });
    const missing = await call("GET", `/v1/requests/${crypto.randomUUID()}`, { headers: restHeaders(b) });
    expect(theirs.status).toBe(missing.status);
    expect((await errorOf(theirs)).code).toBe((await errorOf(missing)).code);
  });

  it.each(refusedCallers)("$name: $status $code", async ({ status, code, headers }) => {
    const res = await call("GET", `/v1/requests/${requestId}`, { headers: headers() });
    await expectRefused(res, status, code);
  });
});

describe("versioned compatibility paths", () => {
  it.each([
    "/3.0/profiles/update",
    "/2.x/profiles/update",
    "/2./profiles/update",
    "/2.3.1/profiles/update",
    "/v2/profiles/update",
  ])("%s is 404 NOT_FOUND and writes nothing", async (path) => {
    const customId = freshId("path");
    const res = await call("POST", path, {
      headers: restHeaders(a),
      body: [{ identifiers: { custom_id: customId }, attributes: { tier: "gold" } }],
    });
    await expectRefused(res, 404, "NOT_FOUND");
    await expectNoProfile(customId);
  });

  it("/2.3/profiles/mass-update is the mass-update endpoint, scoped like it (control)", async () => {
    const res = await call("POST", "/2.3/profiles/mass-update", {
      headers: { Authorization: `Bearer ${b.restKey}`, "X-Batch-Project": a.projectId },
      body: [{ identifiers: { custom_id: freshId("compat-mass") }, attributes: { tier: "gold" } }],
    });
    await expectRefused(res, 403, "FORBIDDEN");
  });
});
