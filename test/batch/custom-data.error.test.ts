import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type Project } from "../support/harness";
import { profileBy } from "../support/identity";
import { batchCall, batchErrorOf, credentialsOf } from "./support";

let p: Project;
beforeAll(async () => {
  p = await createProject();
});

const post = (customId: string, options: { body?: unknown; raw?: string; headers?: Record<string, string> }) =>
  batchCall("POST", credentialsOf(p), `/data/users/${encodeURIComponent(customId)}`, options);

async function expectRefused(res: Response, batchCode: number, path?: string) {
  expect(res.status).toBe(400);
  const error = await batchErrorOf(res);
  expect(error.batch_code).toBe(batchCode);
  if (path !== undefined) expect(error.issues?.map((i) => i.path)).toContain(path);
}

describe("Custom Data API errors: 400 with Batch's code, nothing written", () => {
  const cases: { name: string; body: unknown; code: number; path?: string }[] = [
    { name: "a key with no u./ut. prefix", body: { values: { credit: 1 } }, code: 31, path: "values.credit" },
    { name: "an invalid attribute name", body: { values: { "u.bad name": 1 } }, code: 31, path: "values.u.bad name" },
    { name: "a malformed date", body: { values: { "date(u.d)": "yesterday" } }, code: 31, path: "values.date(u.d)" },
    { name: "a javascript: url", body: { values: { "url(u.u)": "javascript:alert(1)" } }, code: 31 },
    { name: "a ut. tag collection that is a string", body: { values: { "ut.t": "x" } }, code: 31, path: "values.ut.t" },
    { name: "an array under u.", body: { values: { "u.t": ["x"] } }, code: 31, path: "values.u.t" },
    { name: "a string over 300 characters", body: { values: { "u.s": "x".repeat(301) } }, code: 31 },
    { name: "overwrite that is not a boolean", body: { overwrite: "yes", values: {} }, code: 31 },
    { name: "no values", body: { overwrite: true }, code: 30 },
    { name: "an unknown field", body: { values: {}, extra: 1 }, code: 31 },
  ];
  for (const { name, body, code, path } of cases) {
    it(`refuses ${name}`, async () => {
      await expectRefused(await post("err-user", { body: { ...(body as object) } }), code, path);
      expect((await profileBy(p, { custom_id: "err-user" })).status).toBe(404);
    });
  }

  it("refuses the whole update when one value is bad: the good ones are not applied", async () => {
    await expectRefused(await post("err-user", { body: { values: { "u.good": 1, "date(u.bad)": "x" } } }), 31);
    expect((await profileBy(p, { custom_id: "err-user" })).status).toBe(404);
  });

  it("refuses malformed JSON with batch_code 32", async () => {
    await expectRefused(await post("err-user", { raw: "{not json" }), 32);
  });

  it("refuses a placeholder custom ID with batch_code 31", async () => {
    await expectRefused(await post("null", { body: { values: { "u.a": 1 } } }), 31);
  });

  it("refuses a bulk body that is not an array, and one bad user refuses the bulk whole", async () => {
    const creds = credentialsOf(p);
    await expectRefused(await batchCall("POST", creds, "/data/users", { body: { id: "x" } }), 31);
    const res = await batchCall("POST", creds, "/data/users", {
      body: [
        { id: "bulk-ok", update: { values: { "u.a": 1 } } },
        { id: "bulk-bad", update: { values: { "date(u.d)": "never" } } },
      ],
    });
    await expectRefused(res, 31, "1.update.values.date(u.d)");
    expect((await profileBy(p, { custom_id: "bulk-ok" })).status).toBe(404);
  });
});
