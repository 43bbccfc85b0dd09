import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { allShards } from "../../src/db/shards";
import { call, createProject, type Project, refusedRestCallers, restHeaders, sdkHeaders } from "../support/harness";
import { type AudienceBody, createAudience, expectMembers, getAudience, putCsv, refused } from "./helpers";

let a: Project;
let b: Project;
const NAME = "shared-name";

beforeAll(async () => {
  a = await createProject();
  b = await createProject();
  await createAudience(a, NAME, "custom_ids", "A's audience");
  expect((await putCsv(a, NAME, "a-1\na-2\n")).status).toBe(200);
});

/** Every row of the audiences tables, to prove a refused request wrote nothing anywhere. */
async function snapshot() {
  const rows = await Promise.all(
    allShards(env).map((s) =>
      s.d1.batch([
        s.d1.prepare("SELECT * FROM audiences ORDER BY project_id, name"),
        s.d1.prepare("SELECT * FROM audience_members ORDER BY project_id, audience, generation, member"),
      ]),
    ),
  );
  return { audiences: rows.map((r) => r[0]?.results), members: rows.map((r) => r[1]?.results) };
}

const refusedCallers = refusedRestCallers(
  () => a,
  () => b,
);

/** Each endpoint, with a body that would succeed for project A's own key. */
const endpoints: { name: string; send: (headers: Record<string, string>) => Promise<Response> }[] = [
  {
    name: "POST /v1/audiences",
    send: (headers) => call("POST", "/v1/audiences", { headers, body: { name: "new-one", type: "custom_ids" } }),
  },
  { name: "GET /v1/audiences", send: (headers) => call("GET", "/v1/audiences", { headers }) },
  { name: "GET /v1/audiences/{name}", send: (headers) => call("GET", `/v1/audiences/${NAME}`, { headers }) },
  {
    name: "PUT /v1/audiences/{name} (JSON)",
    send: (headers) => call("PUT", `/v1/audiences/${NAME}`, { headers, body: { ids: ["x"] } }),
  },
  {
    name: "PUT /v1/audiences/{name} (CSV)",
    send: (headers) =>
      call("PUT", `/v1/audiences/${NAME}`, { headers: { ...headers, "Content-Type": "text/csv" }, raw: "x\n" }),
  },
  {
    name: "PATCH /v1/audiences/{name}",
    send: (headers) => call("PATCH", `/v1/audiences/${NAME}`, { headers, body: { add: ["x"], remove: ["a-1"] } }),
  },
  { name: "DELETE /v1/audiences/{name}", send: (headers) => call("DELETE", `/v1/audiences/${NAME}`, { headers }) },
];

describe.each(endpoints)("$name refuses callers without project A's REST key", ({ send }) => {
  it.each(refusedCallers)("$name: $status $code, and nothing is written", async ({ status, code, headers }) => {
    const before = await snapshot();
    const error = await refused(await send(headers()), status, code);
    expect(error.issues).toBeUndefined();
    expect(await snapshot()).toEqual(before);
  });
});

describe("refusal comes before the body is read", () => {
  it("an SDK key with an invalid CSV body gets 403, not 400", async () => {
    const before = await snapshot();
    const res = await call("PUT", `/v1/audiences/${NAME}`, {
      headers: { ...sdkHeaders(a), "Content-Type": "text/csv" },
      raw: "a,b,c\n",
    });
    await refused(res, 403, "FORBIDDEN");
    expect(await snapshot()).toEqual(before);
  });

  it("no key with an unsupported content type gets 401, not 415", async () => {
    const res = await call("PUT", `/v1/audiences/${NAME}`, { headers: { "Content-Type": "text/plain" }, raw: "x" });
    await refused(res, 401, "UNAUTHORIZED");
  });
});

describe("project B, with its own valid key, cannot see or touch project A's audience", () => {
  it("GET is 404, exactly as for a name that does not exist", async () => {
    const theirs = await call("GET", `/v1/audiences/${NAME}`, { headers: restHeaders(b) });
    const missing = await call("GET", "/v1/audiences/never-created", { headers: restHeaders(b) });
    const error = await refused(theirs, 404, "NOT_FOUND");
    expect(error.message).toBe((await refused(missing, 404, "NOT_FOUND")).message.replace("never-created", NAME));
  });

  it("the list does not show it", async () => {
    const res = await call("GET", "/v1/audiences", { headers: restHeaders(b) });
    expect(res.status).toBe(200);
    const names = (await res.json<{ audiences: AudienceBody[] }>()).audiences.map((x) => x.name);
    expect(names).not.toContain(NAME);
  });

  it.each([
    ["PUT JSON", () => call("PUT", `/v1/audiences/${NAME}`, { headers: restHeaders(b), body: { ids: ["b-1"] } })],
    ["PUT CSV", () => putCsv(b, NAME, "b-1\n")],
    ["PATCH", () => call("PATCH", `/v1/audiences/${NAME}`, { headers: restHeaders(b), body: { remove: ["a-1"] } })],
    ["DELETE", () => call("DELETE", `/v1/audiences/${NAME}`, { headers: restHeaders(b) })],
  ])("%s is 404 and A's audience keeps its members", async (_, send) => {
    const before = await getAudience(a, NAME);
    await refused(await send(), 404, "NOT_FOUND");
    await expectMembers(a, NAME, ["a-1", "a-2"]);
    expect(await getAudience(a, NAME)).toEqual(before);
  });

  it("B can have an audience of the same name; the two never share members", async () => {
    const created = await call("POST", "/v1/audiences", {
      headers: restHeaders(b),
      body: { name: NAME, type: "installation_ids" },
    });
    expect(created.status).toBe(201);
    const id = crypto.randomUUID();
    expect((await putCsv(b, NAME, `${id}\n`)).status).toBe(200);
    await expectMembers(b, NAME, [id]);
    await expectMembers(a, NAME, ["a-1", "a-2"]);
    expect((await getAudience(a, NAME)).type).toBe("custom_ids");

    expect((await call("DELETE", `/v1/audiences/${NAME}`, { headers: restHeaders(b) })).status).toBe(204);
    await expectMembers(a, NAME, ["a-1", "a-2"]);
  });
});
