import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  adminHeaders,
  BASE,
  call,
  createProject,
  errorOf,
  type Project,
  restHeaders,
  sdkHeaders,
} from "../support/harness";
import { batch, identify } from "../support/identity";
import { responseChecker } from "../support/openapi";
import { waitForProjection } from "../support/projection";
import { placeOn } from "../support/shards";

interface Listed {
  shards: {
    shard: string;
    rows: number;
    bytes: number;
    projects: { project_id: string; profiles: number; rows: number }[];
  }[];
}

const DEVICE = "00000000-0000-4000-8000-00000000e001";
let p: Project;
let empty: Project;

beforeAll(async () => {
  p = await createProject();
  empty = await createProject();
  await placeOn(p.projectId, "PROJECTION_2");
  await placeOn(empty.projectId, "PROJECTION_1");
  await batch(p, DEVICE, [identify("shard-user")]);
  await waitForProjection(p.projectId, [DEVICE], ["shard-user"]);
}, 60_000);

const list = (query = "", headers: Record<string, string> = adminHeaders) =>
  call("GET", `/v1/admin/shards${query}`, { headers });

describe("GET /v1/admin/shards", () => {
  it("lists every shard in binding order with its projects, row counts and size, as documented", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    const body = await res.json<Listed>();
    const doc = await (await exports.default.fetch(new Request(`${BASE}/openapi.json`))).json<
      Record<string, unknown>
    >();
    expect(responseChecker(doc)("GET", "/v1/admin/shards", 200, body)).toBeNull();
    expect(body.shards.map((s) => s.shard)).toEqual(["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"]);
    const [, one, two] = body.shards;
    // The device's anonymous profile, then the custom ID's (the first is orphaned at sign-in).
    const mine = two?.projects.find((x) => x.project_id === p.projectId);
    expect(mine?.profiles).toBeGreaterThanOrEqual(1);
    // Its profile rows and its installation at least.
    expect(mine?.rows).toBeGreaterThanOrEqual((mine?.profiles ?? 0) + 1);
    expect(two?.rows).toBeGreaterThanOrEqual(mine?.rows ?? Number.POSITIVE_INFINITY);
    expect(one?.projects).toContainEqual({ project_id: empty.projectId, profiles: 0, rows: 0 });
    for (const s of body.shards) {
      expect(s.bytes).toBeGreaterThan(0);
      if (s.shard !== "PROJECTION_2") expect(s.projects.map((x) => x.project_id)).not.toContain(p.projectId);
      if (s.shard !== "PROJECTION_1") expect(s.projects.map((x) => x.project_id)).not.toContain(empty.projectId);
    }
  });

  it("lists one shard when asked", async () => {
    const res = await list("?shard=PROJECTION_2");
    expect(res.status).toBe(200);
    const body = await res.json<Listed>();
    expect(body.shards.map((s) => s.shard)).toEqual(["PROJECTION_2"]);
    expect(body.shards[0]?.projects.map((x) => x.project_id)).toContain(p.projectId);
  });

  it("answers 404 for a shard the Worker does not bind, 400 for what is not a shard's name", async () => {
    const missing = await list("?shard=PROJECTION_9");
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe("NOT_FOUND");
    for (const query of ["?shard=DB", "?shard=PROJECTION_", "?shard=projection_1", "?other=1"]) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
    }
  });

  it("is refused without the admin token, with a wrong one, and with a project's keys", async () => {
    const refused = async (headers: Record<string, string>, status: number, code: string) => {
      const res = await list("", headers);
      expect(res.status).toBe(status);
      expect((await errorOf(res)).code).toBe(code);
    };
    await refused({}, 401, "UNAUTHORIZED");
    await refused({ Authorization: `Bearer ${ADMIN_TOKEN}x` }, 401, "UNAUTHORIZED");
    await refused({ Authorization: `Basic ${ADMIN_TOKEN}` }, 401, "UNAUTHORIZED");
    await refused(restHeaders(p), 403, "FORBIDDEN");
    await refused(sdkHeaders(p), 403, "FORBIDDEN");
  });
});
