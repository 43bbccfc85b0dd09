import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { signDownload } from "../../src/exports/signed-url";
import {
  ADMIN_TOKEN,
  BASE,
  call,
  createProject,
  errorOf,
  type Project,
  refusedRestCallers,
  restHeaders,
} from "../support/harness";
import { batch, identify } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { shardDb } from "../support/shards";

const I = "00000000-0000-4000-8000-0000000000a1";
let p: Project;
let other: Project;
let ids: Record<string, string>;

beforeAll(async () => {
  p = await createProject();
  other = await createProject();
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: [
      { identifiers: { custom_id: "alice" }, attributes: { tier: "gold", note: 'a, "b"\nc é', visits: 3 } },
      { identifiers: { custom_id: "bob" }, attributes: { tier: "gold", tags: ["x", "y"] } },
      { identifiers: { custom_id: "carol" }, attributes: { tier: "silver" } },
    ],
  });
  expect(res.status).toBe(202);
  await batch(p, I, [identify("alice")]);
  await waitForProjection(p.projectId, [I], ["alice", "bob", "carol"]);
  const { results } = await (await shardDb(p.projectId))
    .prepare("SELECT custom_id, profile_id FROM profiles WHERE project_id = ?")
    .bind(p.projectId)
    .all<{ custom_id: string; profile_id: string }>();
  ids = Object.fromEntries(results.map((r) => [r.custom_id, r.profile_id]));
}, 60_000);

interface RequestStatus {
  status: string;
  total: number;
  file?: { key: string; rows: number; bytes: number; sha256: string };
}

async function finished(requestId: string, project = p): Promise<RequestStatus> {
  return vi.waitFor(
    async () => {
      const res = await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(project) });
      const body = await res.json<RequestStatus>();
      if (body.status === "pending") throw new Error("pending");
      return body;
    },
    { timeout: 15_000, interval: 100 },
  );
}

const byProfileId = (names: string[]) => names.sort((a, b) => ((ids[a] ?? "") < (ids[b] ?? "") ? -1 : 1));

describe("POST /v1/exports: on-demand profile exports", () => {
  it("writes the matching profiles' fields as CSV and reports its key through /v1/requests", async () => {
    const res = await call("POST", "/v1/exports", {
      headers: restHeaders(p),
      body: {
        type: "profiles",
        where: { attribute: "tier", op: "eq", value: "gold" },
        fields: ["custom_id", "installation_ids", "tier", "note", "visits", "tags"],
      },
    });
    expect(res.status).toBe(202);
    const { request_id } = await res.json<{ request_id: string }>();
    const status = await finished(request_id);
    expect(status).toMatchObject({ status: "done", total: 2, file: { key: `profiles/${request_id}.csv`, rows: 2 } });

    const file = await call("GET", `/v1/exports/${status.file?.key}`, { headers: restHeaders(p) });
    expect(file.status).toBe(200);
    const rows: Record<string, string> = {
      alice: `alice,"[""${I}""]",gold,"a, ""b""\nc é",3,`,
      bob: `bob,[],gold,,,"[""x"",""y""]"`,
    };
    expect(await file.text()).toBe(
      [
        "custom_id,installation_ids,tier,note,visits,tags",
        ...byProfileId(["alice", "bob"]).map((n) => rows[n]),
        "",
      ].join("\r\n"),
    );
  });

  it("exports every reachable profile with the default fields when no where is given", async () => {
    const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body: { type: "profiles" } });
    const { request_id } = await res.json<{ request_id: string }>();
    const status = await finished(request_id);
    const text = await (await call("GET", `/v1/exports/${status.file?.key}`, { headers: restHeaders(p) })).text();
    const lines = text.split("\r\n");
    expect(lines[0]).toBe("profile_id,custom_id,installation_ids,last_activity_at");
    expect(lines.slice(1, -1).map((l) => l.split(",")[1])).toEqual(byProfileId(["alice", "bob", "carol"]));
  });

  it("refuses a bad body with its path and records nothing", async () => {
    const count = async () =>
      (
        await env.DB.prepare("SELECT count(*) AS n FROM requests WHERE project_id = ?")
          .bind(p.projectId)
          .first<{ n: number }>()
      )?.n;
    const before = await count();
    const cases: [unknown, string][] = [
      [{ type: "events" }, "type"],
      [{ type: "profiles", where: { attribute: "tier", op: "like", value: "g" } }, "where"],
      [{ type: "profiles", where: { in_audience: "nobody" } }, "where"],
      [{ type: "profiles", fields: ["Not A Field"] }, "fields.0"],
      [{ type: "profiles", fields: ["tier", "tier"] }, "fields"],
      [{ type: "profiles", extra: true }, ""],
    ];
    for (const [body, path] of cases) {
      const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.issues?.some((i) => i.path.startsWith(path))).toBe(true);
    }
    expect(await count()).toBe(before);
  });

  it("keeps each project's exports to itself", async () => {
    const res = await call("POST", "/v1/exports", { headers: restHeaders(p), body: { type: "profiles" } });
    const { request_id } = await res.json<{ request_id: string }>();
    await finished(request_id);
    const theirs = await call("GET", `/v1/exports/profiles/${request_id}.csv`, { headers: restHeaders(other) });
    expect(theirs.status).toBe(404);
    const status = await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(other) });
    expect(status.status).toBe(404);
  });

  describe.each(
    refusedRestCallers(
      () => p,
      () => other,
    ),
  )("refuses $name", ({ status, code, headers }) => {
    it("on create and download", async () => {
      const create = await call("POST", "/v1/exports", { headers: headers(), body: { type: "profiles" } });
      expect(create.status).toBe(status);
      expect((await errorOf(create)).code).toBe(code);
      const get = await call("GET", `/v1/exports/profiles/${crypto.randomUUID()}.csv`, { headers: headers() });
      expect(get.status).toBe(status);
    });
  });
});

describe("Batch-compatible exports: /2.{minor}/profiles/export and /2.{minor}/exports/…", () => {
  it("exports, views, lists and redirects to a signed link valid 20 minutes", async () => {
    const res = await call("POST", "/2.1/profiles/export", {
      headers: { Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId },
      body: {
        export_type: "ATTRIBUTES",
        identifiers: ["custom_id"],
        attributes: ["tier"],
        filter: { attribute: "tier", op: "eq", value: "silver" },
      },
    });
    expect(res.status).toBe(202);
    const { id } = await res.json<{ id: string }>();
    await finished(id);

    const view = await call("GET", `/2.3/exports/view?id=${id}`, { headers: restHeaders(p) });
    const body = await view.json<{
      id: string;
      status: string;
      files: { url: string; size: number; part: number }[];
    }>();
    expect(body).toMatchObject({
      id,
      status: "SUCCESS",
      files: [{ id, part: 1, size: "custom_id,tier\r\ncarol,silver\r\n".length }],
    });
    const list = await call("GET", "/2.1/exports/list", { headers: restHeaders(p) });
    expect((await list.json<{ exports: { id: string }[] }>()).exports.map((e) => e.id)).toContain(id);

    // Not followed, so the redirect itself is seen.
    const redirect = await exports.default.fetch(
      new Request(`${BASE}/2.1/exports/download?id=${id}`, { headers: restHeaders(p), redirect: "manual" }),
    );
    expect(redirect.status).toBe(307);
    const location = new URL(redirect.headers.get("Location") ?? "");
    const expires = Number(location.searchParams.get("expires"));
    expect(expires * 1000 - Date.now()).toBeGreaterThan(19 * 60_000);
    expect(expires * 1000 - Date.now()).toBeLessThanOrEqual(20 * 60_000);
    // The link needs no key: its signature is the key.
    const file = await call("GET", location.pathname + location.search);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("custom_id,tier\r\ncarol,silver\r\n");
  });

  it("refuses a tampered, expired or other project's link, and another project's export ID", async () => {
    const res = await call("POST", "/2.1/profiles/export", {
      headers: restHeaders(p),
      body: { export_type: "ATTRIBUTES", identifiers: ["custom_id"], attributes: [] },
    });
    const { id } = await res.json<{ id: string }>();
    await finished(id);
    const good = new URL(BASE + (await signDownload(ADMIN_TOKEN, p.projectId, id, Date.now())));
    expect((await call("GET", good.pathname + good.search)).status).toBe(200);

    const expired = new URL(BASE + (await signDownload(ADMIN_TOKEN, p.projectId, id, Date.now() - 21 * 60_000)));
    const forged = new URL(good);
    forged.searchParams.set("expires", String(Number(good.searchParams.get("expires")) + 3600));
    const moved = `/v1/downloads/${other.projectId}/${id}.csv${good.search}`;
    for (const path of [expired.pathname + expired.search, forged.pathname + forged.search, moved]) {
      const refused = await call("GET", path);
      expect(refused.status, path).toBe(403);
      expect((await errorOf(refused)).code).toBe("FORBIDDEN");
    }
    const theirs = await call("GET", `/2.1/exports/download?id=${id}`, { headers: restHeaders(other) });
    expect(theirs.status).toBe(404);
    const view = await call("GET", `/2.1/exports/view?id=${id}`, { headers: restHeaders(other) });
    expect(view.status).toBe(404);
  });

  it("refuses a bad body, an SDK key and a missing key", async () => {
    for (const body of [
      { export_type: "EVENTS", identifiers: ["custom_id"] },
      { export_type: "ATTRIBUTES", identifiers: ["email"] },
      { export_type: "ATTRIBUTES", identifiers: [], attributes: [] },
    ]) {
      const res = await call("POST", "/2.1/profiles/export", { headers: restHeaders(p), body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
    }
    const sdk = await call("GET", "/2.1/exports/list", { headers: { "X-Api-Key": p.sdkKey } });
    expect(sdk.status).toBe(403);
    expect((await call("GET", "/2.1/exports/list")).status).toBe(401);
  });
});
