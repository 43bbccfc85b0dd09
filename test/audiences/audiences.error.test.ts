import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";
import {
  audienceRow,
  createAudience,
  expectMembers,
  freshName,
  getAudience,
  patch,
  putCsv,
  putCsvStream,
  putJson,
  refused,
  rowsByGeneration,
  seededAudience,
} from "./helpers";

let p: Project;

beforeAll(async () => {
  p = await createProject();
});

async function audienceCount(project: Project): Promise<number> {
  const row = await (await shardDb(project.projectId))
    .prepare("SELECT count(*) AS n FROM audiences WHERE project_id = ?")
    .bind(project.projectId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** An audience of this file's project holding `members`, and its snapshot. */
const seeded = (members: string[], type?: "custom_ids" | "installation_ids") => seededAudience(p, members, type);

/** The refused request changed nothing: same members, size, updated_at, and no rows of other generations. */
async function expectUnchanged(name: string, members: string[], before: unknown) {
  await expectMembers(p, name, members);
  expect(await getAudience(p, name)).toEqual(before);
}

describe("POST /v1/audiences refuses bad input and writes nothing", () => {
  const cases: { name: string; body: unknown; paths: string[] }[] = [
    { name: "an empty name", body: { name: "", type: "custom_ids" }, paths: ["name"] },
    { name: "a name of 101 characters", body: { name: "x".repeat(101), type: "custom_ids" }, paths: ["name"] },
    { name: "a name with a space", body: { name: "vip users", type: "custom_ids" }, paths: ["name"] },
    { name: "a name with a dot", body: { name: "vip.users", type: "custom_ids" }, paths: ["name"] },
    { name: "a name with a slash", body: { name: "vip/users", type: "custom_ids" }, paths: ["name"] },
    { name: "a name with a non-ASCII letter", body: { name: "clientèle", type: "custom_ids" }, paths: ["name"] },
    { name: "a number as name", body: { name: 42, type: "custom_ids" }, paths: ["name"] },
    { name: "no name", body: { type: "custom_ids" }, paths: ["name"] },
    { name: "an unknown type", body: { name: "n1", type: "emails" }, paths: ["type"] },
    { name: "no type", body: { name: "n1" }, paths: ["type"] },
    {
      name: "a description of 501 characters",
      body: { name: "n1", type: "custom_ids", description: "d".repeat(501) },
      paths: ["description"],
    },
    {
      name: "a description that is not a string",
      body: { name: "n1", type: "custom_ids", description: 1 },
      paths: ["description"],
    },
    { name: "an unknown field", body: { name: "n1", type: "custom_ids", size: 3 }, paths: ["size"] },
    { name: "two problems at once", body: { name: "a b", type: "x" }, paths: ["name", "type"] },
    { name: "an array", body: [{ name: "n1", type: "custom_ids" }], paths: [""] },
  ];

  it.each(cases)("$name: 400 VALIDATION_FAILED at $paths", async ({ body, paths }) => {
    const before = await audienceCount(p);
    const res = await call("POST", "/v1/audiences", { headers: restHeaders(p), body });
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path).sort()).toEqual([...paths].sort());
    expect(await audienceCount(p)).toBe(before);
  });

  it("answers malformed JSON with 400 INVALID_JSON", async () => {
    const before = await audienceCount(p);
    const res = await call("POST", "/v1/audiences", { headers: restHeaders(p), raw: '{"name": "x",' });
    await refused(res, 400, "INVALID_JSON");
    expect(await audienceCount(p)).toBe(before);
  });

  it("answers an existing name with 409 CONFLICT and leaves the audience as it was", async () => {
    const { name, before } = await seeded(["m1", "m2"]);
    const count = await audienceCount(p);
    const res = await call("POST", "/v1/audiences", {
      headers: restHeaders(p),
      body: { name, type: "installation_ids", description: "other" },
    });
    const error = await refused(res, 409, "CONFLICT");
    expect(error.message).toContain(name);
    expect(await audienceCount(p)).toBe(count);
    await expectUnchanged(name, ["m1", "m2"], before);
  });

  it("treats names as case-sensitive: `Vip` and `vip` are two audiences", async () => {
    const name = freshName("Vip");
    await createAudience(p, name);
    await createAudience(p, name.toLowerCase());
    expect((await getAudience(p, name)).name).toBe(name);
  });
});

describe("unknown and invalid audience names", () => {
  const routes: [string, (name: string) => Promise<Response>][] = [
    ["GET", (name) => call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) })],
    ["PUT json", (name) => putJson(p, name, { ids: ["a"] })],
    ["PUT csv", (name) => putCsv(p, name, "a\n")],
    ["PATCH", (name) => patch(p, name, { add: ["a"] })],
    ["DELETE", (name) => call("DELETE", `/v1/audiences/${name}`, { headers: restHeaders(p) })],
  ];

  it.each(routes)("%s of an unknown audience: 404 NOT_FOUND, and no row written", async (_, send) => {
    const name = freshName("missing");
    const error = await refused(await send(name), 404, "NOT_FOUND");
    expect(error.message).toContain(name);
    expect(await audienceRow(p, name)).toBeNull();
    expect(await rowsByGeneration(p, name)).toEqual({});
  });

  it.each(routes)("%s with an invalid name in the path: 400 at `name`", async (_, send) => {
    const error = await refused(await send("bad.name"), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(["name"]);
  });
});

describe("PUT with CSV refuses a bad body as a whole: the members stay exactly as they were", () => {
  const cases: { name: string; csv: string; path: string; message: RegExp }[] = [
    { name: "a placeholder ID", csv: "custom_id\nok-1\nnull\nok-2\n", path: "line 3", message: /placeholder/ },
    { name: "an ID of 513 characters", csv: `ok-1\n${"x".repeat(513)}\n`, path: "line 2", message: /512/ },
    { name: "a control character", csv: "ok-1\nbad\u0007id\n", path: "line 2", message: /control/ },
    { name: "a quoted empty ID", csv: 'ok-1\n\n""\n', path: "line 3", message: /empty/ },
    {
      name: "two columns",
      csv: "custom_id\r\nok-1\r\nuser,other\r\n",
      path: "line 3",
      message: /more than one column/i,
    },
    { name: "a trailing comma", csv: "ok-1,\n", path: "line 1", message: /more than one column/i },
    { name: "an unterminated quote", csv: 'ok-1\n"ok-2\nok-3"\n', path: "line 2", message: /not closed/ },
    { name: "a stray quote", csv: 'ok-1\nok"2\n', path: "line 2", message: /quote/ },
    { name: "text after a closing quote", csv: '"ok-1"x\n', path: "line 1", message: /closing quote/ },
  ];

  it.each(cases)("$name: 400 at $path", async ({ csv, path, message }) => {
    const { name, before } = await seeded(["keep-1", "keep-2"]);
    const error = await refused(await putCsv(p, name, csv), 400, "VALIDATION_FAILED");
    expect(error.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
    await expectUnchanged(name, ["keep-1", "keep-2"], before);
  });

  it("invalid UTF-8: 400", async () => {
    const { name, before } = await seeded(["keep-1", "keep-2"]);
    const body = new Blob([new Uint8Array([0x6f, 0x6b, 0x0a, 0xc3, 0x28, 0x0a])]).stream();
    const error = await refused(await putCsvStream(p, name, body), 400, "VALIDATION_FAILED");
    expect(error.issues).toEqual([{ path: "line 1", message: expect.stringMatching(/UTF-8/) }]);
    await expectUnchanged(name, ["keep-1", "keep-2"], before);
  });

  it("refuses a UUID-less line in an installation audience, naming the line", async () => {
    const id = crypto.randomUUID();
    const { name, before } = await seeded([id], "installation_ids");
    const res = await putCsv(p, name, `installation_id\n${crypto.randomUUID()}\n\nuser-42\n`);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues).toEqual([{ path: "line 4", message: '"user-42" is not an installation ID (a UUID).' }]);
    expect(error.message).toBe('line 4: "user-42" is not an installation ID (a UUID). The members were not changed.');
    await expectUnchanged(name, [id], before);
  });

  it("lists every invalid line, not only the first", async () => {
    const { name, before } = await seeded(["keep"]);
    const res = await putCsv(p, name, "id\nok\nnull\nok2\nundefined\n\nguest\n");
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(["line 3", "line 5", "line 7"]);
    await expectUnchanged(name, ["keep"], before);
  });

  it("lists at most 100 problems", async () => {
    const { name, before } = await seeded(["keep"]);
    const res = await putCsv(p, name, "null\n".repeat(500));
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues).toHaveLength(100);
    expect(error.message).toMatch(/first 100/);
    await expectUnchanged(name, ["keep"], before);
  });

  it("deletes what was already written when the bad line comes after 25,000 good ones", async () => {
    const { name, before } = await seeded(["keep-1", "keep-2"]);
    const good = Array.from({ length: 25_000 }, (_, i) => `early-${i}`).join("\n");
    const res = await putCsv(p, name, `custom_id\n${good}\nnull\n`);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues).toEqual([{ path: "line 25002", message: expect.stringMatching(/placeholder/) }]);
    await expectUnchanged(name, ["keep-1", "keep-2"], before);
    const total = await (await shardDb(p.projectId))
      .prepare("SELECT count(*) AS n FROM audience_members WHERE project_id = ? AND audience = ?")
      .bind(p.projectId, name)
      .first<{ n: number }>();
    expect(total?.n).toBe(2);
  });

  it("refuses an empty body, and one of blank lines only", async () => {
    const { name, before } = await seeded(["keep"]);
    for (const csv of ["", "\n\r\n  \n"]) {
      const error = await refused(await putCsv(p, name, csv), 400, "VALIDATION_FAILED");
      expect(error.issues).toEqual([{ path: "body", message: expect.stringMatching(/header line alone/) }]);
    }
    await expectUnchanged(name, ["keep"], before);
  });

  it("refuses more than 1,000,000 IDs, duplicates included", { timeout: 60_000 }, async () => {
    const { name, before } = await seeded(["keep"]);
    // The same ID on every line keeps the test fast: the limit counts lines, not distinct IDs.
    const chunk = new TextEncoder().encode("same-id\n".repeat(10_000));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent < 1_000_000) {
          controller.enqueue(chunk);
          sent += 10_000;
        } else {
          controller.enqueue(new TextEncoder().encode("same-id\n"));
          controller.close();
        }
      },
    });
    const res = await putCsvStream(p, name, body);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues).toEqual([{ path: "line 1000001", message: "More than 1000000 IDs." }]);
    await expectUnchanged(name, ["keep"], before);
  });
});

describe("PUT with JSON refuses bad input and writes nothing", () => {
  const cases: { name: string; body: unknown; paths: string[]; type?: "installation_ids" }[] = [
    { name: "no ids", body: {}, paths: ["ids"] },
    { name: "ids not an array", body: { ids: "a,b" }, paths: ["ids"] },
    { name: "a number among the ids", body: { ids: ["a", 7] }, paths: ["ids.1"] },
    { name: "10,001 ids", body: { ids: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, paths: ["ids"] },
    { name: "an unknown field", body: { ids: ["a"], mode: "append" }, paths: ["mode"] },
    { name: "placeholders", body: { ids: ["a", "null", "b", "  "] }, paths: ["ids.1", "ids.3"] },
    { name: "an ID of 513 characters", body: { ids: ["x".repeat(513)] }, paths: ["ids.0"] },
    {
      name: "a custom ID in an installation audience",
      body: { ids: [crypto.randomUUID(), "user-1"] },
      paths: ["ids.1"],
      type: "installation_ids",
    },
  ];

  it.each(cases)("$name: 400 at $paths", async ({ body, paths, type }) => {
    const existing = type ? [crypto.randomUUID()] : ["keep"];
    const { name, before } = await seeded(existing, type);
    const error = await refused(await putJson(p, name, body), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(paths);
    await expectUnchanged(name, existing, before);
  });

  it("answers malformed JSON with 400 INVALID_JSON", async () => {
    const { name, before } = await seeded(["keep"]);
    const res = await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), raw: '{"ids": [' });
    await refused(res, 400, "INVALID_JSON");
    await expectUnchanged(name, ["keep"], before);
  });
});

describe("PUT refuses other content types with 415 before reading the body", () => {
  it.each([
    ["text/plain", "a\n"],
    ["application/xml", "<ids/>"],
    ["application/x-www-form-urlencoded", "ids=a"],
    ["text/csv; charset=iso-8859-1", "a\n"],
    ["application/vnd.api+json", '{"ids":["a"]}'],
  ])("%s", async (contentType, raw) => {
    const { name, before } = await seeded(["keep"]);
    const res = await call("PUT", `/v1/audiences/${name}`, {
      headers: { ...restHeaders(p), "Content-Type": contentType },
      raw,
    });
    const error = await refused(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(error.message).toMatch(/text\/csv/);
    await expectUnchanged(name, ["keep"], before);
  });

  it("without a Content-Type", async () => {
    const { name, before } = await seeded(["keep"]);
    // A byte body gets no Content-Type by default, unlike a string one.
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/audiences/${name}`, {
        method: "PUT",
        headers: restHeaders(p),
        body: new TextEncoder().encode("a\n"),
      }),
    );
    expect(res.headers.get("Content-Type")).toMatch(/json/);
    await refused(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectUnchanged(name, ["keep"], before);
  });

  it("a JSON body above 16 MiB: 413 before it is parsed", async () => {
    const { name, before } = await seeded(["keep"]);
    const res = await call("PUT", `/v1/audiences/${name}`, {
      headers: { ...restHeaders(p), "Content-Length": String(17 * 1024 * 1024) },
      raw: "{}",
    });
    await refused(res, 413, "PAYLOAD_TOO_LARGE");
    await expectUnchanged(name, ["keep"], before);
  });
});

describe("PATCH refuses bad input and writes nothing", () => {
  const cases: { name: string; body: unknown; paths: string[]; type?: "installation_ids" }[] = [
    { name: "an empty object", body: {}, paths: [""] },
    { name: "two empty lists", body: { add: [], remove: [] }, paths: [""] },
    { name: "add not an array", body: { add: "a" }, paths: ["add"] },
    { name: "10,001 additions", body: { add: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, paths: ["add"] },
    { name: "10,001 removals", body: { remove: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, paths: ["remove"] },
    { name: "an unknown field", body: { add: ["a"], replace: true }, paths: ["replace"] },
    { name: "a placeholder in add", body: { add: ["a", "b", "c", "anonymous"] }, paths: ["add.3"] },
    { name: "a control character in remove", body: { add: ["a"], remove: ["x", "y\n"] }, paths: ["remove.1"] },
    { name: "the same ID added and removed", body: { add: ["a", "b"], remove: ["b"] }, paths: ["remove.0"] },
    {
      name: "a custom ID in an installation audience",
      body: { add: ["not-a-uuid"], remove: [crypto.randomUUID(), "nope"] },
      paths: ["add.0", "remove.1"],
      type: "installation_ids",
    },
  ];

  it.each(cases)("$name: 400 at $paths", async ({ body, paths, type }) => {
    const existing = type ? [crypto.randomUUID()] : ["keep"];
    const { name, before } = await seeded(existing, type);
    const error = await refused(await patch(p, name, body), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(paths);
    await expectUnchanged(name, existing, before);
  });

  it("refuses an installation ID added in upper case and removed in lower case as the same ID", async () => {
    const id = crypto.randomUUID();
    const { name, before } = await seeded([], "installation_ids");
    const error = await refused(
      await patch(p, name, { add: [id.toUpperCase()], remove: [id] }),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.map((i) => i.path)).toEqual(["remove.0"]);
    await expectUnchanged(name, [], before);
  });
});
