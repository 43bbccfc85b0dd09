import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";
import {
  type AudienceBody,
  audienceRow,
  createAudience,
  expectMembers,
  freshName,
  generatedCsv,
  getAudience,
  membersOf,
  patch,
  putCsv,
  putCsvStream,
  putJson,
  rowsByGeneration,
} from "./helpers";

let p: Project;

beforeAll(async () => {
  p = await createProject();
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("POST /v1/audiences, GET, list", () => {
  it("creates an empty audience and answers it with 201", async () => {
    const name = freshName("Vip_customers");
    const res = await call("POST", "/v1/audiences", {
      headers: restHeaders(p),
      body: { name, type: "custom_ids", description: "Paying users" },
    });
    expect(res.status).toBe(201);
    const body = await res.json<AudienceBody>();
    expect(body).toEqual({
      name,
      type: "custom_ids",
      description: "Paying users",
      size: 0,
      created_at: expect.stringMatching(ISO),
      updated_at: body.created_at,
    });
    expect(await getAudience(p, name)).toEqual(body);
    expect(await audienceRow(p, name)).toMatchObject({ type: "custom_ids", size: 0, description: "Paying users" });
  });

  it("takes a name of 100 characters and no description", async () => {
    const name = `n${"x".repeat(99)}`;
    const created = await createAudience(p, name, "installation_ids");
    expect(created).toMatchObject({ name, type: "installation_ids", description: null, size: 0 });
  });

  it("lists the project's audiences ordered by name, each in the same shape as GET", async () => {
    const q = await createProject();
    for (const name of ["beta", "Alpha", "alpha", "a-1", "a_1"]) await createAudience(q, name);
    const res = await call("GET", "/v1/audiences", { headers: restHeaders(q) });
    expect(res.status).toBe(200);
    const { audiences } = await res.json<{ audiences: AudienceBody[] }>();
    expect(audiences.map((a) => a.name)).toEqual(["Alpha", "a-1", "a_1", "alpha", "beta"]);
    expect(audiences[0]).toEqual(await getAudience(q, "Alpha"));
  });

  it("lists nothing for a project without audiences", async () => {
    const q = await createProject();
    const res = await call("GET", "/v1/audiences", { headers: restHeaders(q) });
    expect(await res.json()).toEqual({ audiences: [] });
  });
});

describe("PUT /v1/audiences/{name} with text/csv", () => {
  it("reads quoted values, escaped quotes, CRLF, blank lines and whitespace; ignores duplicates", async () => {
    const name = freshName("csv");
    await createAudience(p, name);
    const csv = [
      "custom_id",
      "user-1",
      "",
      '"user,2"',
      '  "say ""hi"""  ',
      "   ",
      "user-1",
      '"user-1"',
      "  user-3\t",
      "",
    ].join("\r\n");
    const res = await putCsv(p, name, csv);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name, size: 4 });
    await expectMembers(p, name, ["user-1", "user,2", 'say "hi"', "user-3"]);
  });

  it("reads a CSV without a header: the first line is an ID", async () => {
    const name = freshName("noheader");
    await createAudience(p, name);
    expect((await putCsv(p, name, "first\nsecond")).status).toBe(200);
    await expectMembers(p, name, ["first", "second"]);
  });

  it.each(["id", "ID", "Custom_ID", "installation_id", "CUSTOM_USER_ID", '"custom_id"', "  id  "])(
    "takes a first line %j as a header",
    async (header) => {
      const name = freshName("header");
      await createAudience(p, name);
      expect((await putCsv(p, name, `${header}\nu1\nu2\n`)).status).toBe(200);
      await expectMembers(p, name, ["u1", "u2"]);
    },
  );

  it("takes the header after leading blank lines, and a header word later on as an ID", async () => {
    const name = freshName("header-late");
    await createAudience(p, name);
    expect((await putCsv(p, name, "\n\ncustom_id\nu1\ncustom_id\n")).status).toBe(200);
    await expectMembers(p, name, ["custom_id", "u1"]);
  });

  it("stores installation IDs lowercase, so case variants are one member", async () => {
    const name = freshName("installs");
    await createAudience(p, name, "installation_ids");
    const id = crypto.randomUUID();
    const other = crypto.randomUUID();
    const res = await putCsv(p, name, `installation_id\n${id.toUpperCase()}\n${id}\n"${other}"\n`);
    expect(res.status).toBe(200);
    await expectMembers(p, name, [id, other]);
  });

  it("replaces the previous members, deletes their rows, and moves updated_at", async () => {
    const name = freshName("replace");
    const created = await createAudience(p, name);
    expect((await putCsv(p, name, "a\nb\nc\n")).status).toBe(200);
    const first = await getAudience(p, name);
    const generation = (await audienceRow(p, name))?.generation ?? -1;
    expect(first.updated_at >= created.updated_at).toBe(true);
    await new Promise((r) => setTimeout(r, 5));

    expect((await putCsv(p, name, "c\nd\n")).status).toBe(200);
    await expectMembers(p, name, ["c", "d"]);
    const second = await getAudience(p, name);
    expect(second.updated_at > first.updated_at).toBe(true);
    expect(second.created_at).toBe(created.created_at);
    expect((await audienceRow(p, name))?.generation).toBeGreaterThan(generation);
  });

  it("empties the audience with a header alone", async () => {
    const name = freshName("empty");
    await createAudience(p, name);
    await putCsv(p, name, "a\nb\n");
    expect((await putCsv(p, name, "custom_id\r\n")).status).toBe(200);
    await expectMembers(p, name, []);
  });

  it("accepts text/csv with a UTF-8 charset, and non-ASCII IDs", async () => {
    const name = freshName("charset");
    await createAudience(p, name);
    const res = await putCsv(p, name, "héloïse\n日本\n", { "Content-Type": "text/csv; charset=UTF-8" });
    expect(res.status).toBe(200);
    expect(new Set(await membersOf(p, name))).toEqual(new Set(["héloïse", "日本"]));
  });

  it("streams a replace of 50,000 IDs, then another of 30,000, keeping only the current rows", async () => {
    const name = freshName("big");
    await createAudience(p, name);
    const res = await putCsvStream(p, name, generatedCsv(50_000, "big-user-"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ size: 50_000 });
    const row = await audienceRow(p, name);
    expect(row?.size).toBe(50_000);
    expect(await rowsByGeneration(p, name)).toEqual({ [row?.generation ?? -1]: 50_000 });
    const sample = await (await shardDb(p.projectId))
      .prepare(
        "SELECT count(*) AS n FROM audience_members WHERE project_id = ? AND audience = ? AND member IN (?, ?, ?)",
      )
      .bind(p.projectId, name, "big-user-0", "big-user-25000", "big-user-49999")
      .first<{ n: number }>();
    expect(sample?.n).toBe(3);

    const again = await putCsvStream(p, name, generatedCsv(30_000, "next-"));
    expect(again.status).toBe(200);
    const after = await audienceRow(p, name);
    expect(after?.size).toBe(30_000);
    expect(await rowsByGeneration(p, name)).toEqual({ [after?.generation ?? -1]: 30_000 });
  });
});

describe("PUT /v1/audiences/{name} with JSON", () => {
  it("replaces the members with {ids}, duplicates counted once", async () => {
    const name = freshName("json");
    await createAudience(p, name);
    await putCsv(p, name, "old-1\nold-2\n");
    const res = await putJson(p, name, { ids: ["j1", "j2", "j1", "j3"] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name, size: 3 });
    await expectMembers(p, name, ["j1", "j2", "j3"]);
  });

  it("takes 10,000 IDs", async () => {
    const name = freshName("json-max");
    await createAudience(p, name, "installation_ids");
    const ids = Array.from({ length: 10_000 }, () => crypto.randomUUID().toUpperCase());
    const res = await putJson(p, name, { ids });
    expect(res.status).toBe(200);
    expect((await res.json<AudienceBody>()).size).toBe(10_000);
    const members = await membersOf(p, name);
    expect(members).toHaveLength(10_000);
    expect(members).toContain(ids[1234]?.toLowerCase());
  });

  it("empties the audience with an empty list", async () => {
    const name = freshName("json-empty");
    await createAudience(p, name);
    await putJson(p, name, { ids: ["a"] });
    expect((await putJson(p, name, { ids: [] })).status).toBe(200);
    await expectMembers(p, name, []);
  });
});

describe("PATCH /v1/audiences/{name}", () => {
  it("adds and removes members of the current generation and recomputes the size", async () => {
    const name = freshName("patch");
    await createAudience(p, name);
    await putCsv(p, name, "a\nb\nc\n");
    const before = await getAudience(p, name);
    await new Promise((r) => setTimeout(r, 5));

    const res = await patch(p, name, { add: ["d", "e", "a", "d"], remove: ["b", "not-a-member"] });
    expect(res.status).toBe(200);
    const body = await res.json<AudienceBody>();
    expect(body).toMatchObject({ name, size: 4 });
    expect(body.updated_at > before.updated_at).toBe(true);
    await expectMembers(p, name, ["a", "c", "d", "e"]);
  });

  it("takes add alone and remove alone", async () => {
    const name = freshName("patch-one");
    await createAudience(p, name);
    expect((await patch(p, name, { add: ["x", "y"] })).status).toBe(200);
    await expectMembers(p, name, ["x", "y"]);
    expect((await patch(p, name, { remove: ["x"], add: [] })).status).toBe(200);
    await expectMembers(p, name, ["y"]);
  });

  it("lowercases installation IDs, so a member added in upper case is removed in lower case", async () => {
    const name = freshName("patch-installs");
    await createAudience(p, name, "installation_ids");
    const id = crypto.randomUUID();
    await patch(p, name, { add: [id.toUpperCase()] });
    await expectMembers(p, name, [id]);
    expect((await patch(p, name, { remove: [id] })).status).toBe(200);
    await expectMembers(p, name, []);
  });

  it("applies 10,000 additions and 10,000 removals in one request", async () => {
    const name = freshName("patch-big");
    await createAudience(p, name);
    const olds = Array.from({ length: 10_000 }, (_, i) => `old-${i}`);
    const news = Array.from({ length: 10_000 }, (_, i) => `new-${i}`);
    await putJson(p, name, { ids: [...olds.slice(0, 5000)] });
    await patch(p, name, { add: olds.slice(5000) });
    expect((await getAudience(p, name)).size).toBe(10_000);
    const res = await patch(p, name, { add: news, remove: olds });
    expect(res.status).toBe(200);
    expect((await res.json<AudienceBody>()).size).toBe(10_000);
    const members = await membersOf(p, name);
    expect(members.every((m) => m.startsWith("new-"))).toBe(true);
    expect(members).toHaveLength(10_000);
  });
});

describe("DELETE /v1/audiences/{name}", () => {
  it("deletes the audience and all its member rows; the name can be used again, empty", async () => {
    const name = freshName("delete");
    await createAudience(p, name, "custom_ids", "first");
    await putCsvStream(p, name, generatedCsv(12_000, "d-"));
    const res = await call("DELETE", `/v1/audiences/${name}`, { headers: restHeaders(p) });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) })).status).toBe(404);
    expect(await audienceRow(p, name)).toBeNull();
    expect(await rowsByGeneration(p, name)).toEqual({});
    const list = await call("GET", "/v1/audiences", { headers: restHeaders(p) });
    expect((await list.json<{ audiences: AudienceBody[] }>()).audiences.map((a) => a.name)).not.toContain(name);

    const again = await createAudience(p, name, "installation_ids");
    expect(again).toMatchObject({ type: "installation_ids", description: null, size: 0 });
    await expectMembers(p, name, []);
  });

  it("leaves the project's other audiences alone", async () => {
    const keep = freshName("keep");
    const drop = freshName("drop");
    await createAudience(p, keep);
    await createAudience(p, drop);
    await putCsv(p, keep, "k1\nk2\n");
    await putCsv(p, drop, "k1\n");
    expect((await call("DELETE", `/v1/audiences/${drop}`, { headers: restHeaders(p) })).status).toBe(204);
    await expectMembers(p, keep, ["k1", "k2"]);
  });
});

describe("an audience recreated over rows a deletion left behind", () => {
  it("starts above them, so they never count as members", async () => {
    const name = freshName("leftover");
    await createAudience(p, name);
    // As if a deletion had stopped half way: rows of generation 7 remain without their audience.
    await call("DELETE", `/v1/audiences/${name}`, { headers: restHeaders(p) });
    await (await shardDb(p.projectId))
      .prepare("INSERT INTO audience_members VALUES (?, ?, 7, 'ghost')")
      .bind(p.projectId, name)
      .run();
    const again = await createAudience(p, name);
    expect(again.size).toBe(0);
    expect(await membersOf(p, name)).toEqual([]);
    expect((await audienceRow(p, name))?.generation).toBe(8);
    // The next replace clears them.
    await putCsv(p, name, "real\n");
    await expectMembers(p, name, ["real"]);
  });
});

describe("the OpenAPI document", () => {
  it("describes every audience route, and both bodies of a replace", async () => {
    const res = await call("GET", "/openapi.json");
    const doc = await res.json<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    }>();
    expect(Object.keys(doc.paths["/v1/audiences"] ?? {}).sort()).toEqual(["get", "post"]);
    const item = doc.paths["/v1/audiences/{name}"] ?? {};
    expect(Object.keys(item).sort()).toEqual(["delete", "get", "patch", "put"]);
    expect(Object.keys(item.put?.requestBody?.content ?? {}).sort()).toEqual(["application/json", "text/csv"]);
  });
});
