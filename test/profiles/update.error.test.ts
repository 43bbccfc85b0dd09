import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { batch, customIdStub, profileBy } from "../support/identity";

const MiB = 1024 * 1024;
const DAY = 24 * 3600 * 1000;

/** The same helper as update.happy.test.ts; importing it from there would run that file's tests here too. */
function update(project: Project, operations: unknown, path = "/v1/profiles/update", headers = restHeaders(project)) {
  return call("POST", path, { headers, body: operations });
}

let p: Project;

beforeAll(async () => {
  p = await createProject();
});

let counter = 0;
/** A custom ID no other test in this file uses. */
const freshId = (label: string) => `err-${label}-${++counter}`;

async function requestRows(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM requests").first<{ n: number }>();
  return row?.n ?? -1;
}

async function expectNoProfile(customId: string) {
  const { status } = await profileBy(p, { custom_id: customId });
  expect(status).toBe(404);
}

/** Sends a request that must be refused as a whole with `status` and `code`; returns the envelope. */
async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

const attrs = (n: number, prefix = "a") =>
  Object.fromEntries(Array.from({ length: n }, (_, k) => [`${prefix}${k}`, k]));

/**
 * Each case is a request whose only operation breaks one rule of SPEC §3/§4: a 400 listing
 * that operation's problem by path, and nothing written.
 */
const cases: { name: string; op: (customId: string) => Record<string, unknown>; paths: string[] }[] = [
  {
    name: "both custom_id and installation_id",
    op: (c) => ({ identifiers: { custom_id: c, installation_id: crypto.randomUUID() }, attributes: { a: 1 } }),
    paths: ["0.identifiers"],
  },
  {
    name: "a custom_id of 513 characters",
    op: () => ({ identifiers: { custom_id: "c".repeat(513) }, attributes: { a: 1 } }),
    paths: ["0.identifiers.custom_id"],
  },
  {
    name: "a custom_id with a control character",
    op: (c) => ({ identifiers: { custom_id: `${c}\n` }, attributes: { a: 1 } }),
    paths: ["0.identifiers.custom_id"],
  },
  {
    name: "an unknown field in identifiers",
    op: (c) => ({ identifiers: { custom_id: c, email: "a@b.co" }, attributes: { a: 1 } }),
    paths: ["0.identifiers.email"],
  },
  { name: "no identifier", op: () => ({ identifiers: {}, attributes: { a: 1 } }), paths: ["0.identifiers"] },
  { name: "no identifiers object", op: () => ({ attributes: { a: 1 } }), paths: ["0.identifiers"] },
  {
    name: "installation_id that is not a UUID",
    op: () => ({ identifiers: { installation_id: "not-a-uuid" }, attributes: { a: 1 } }),
    paths: ["0.identifiers.installation_id"],
  },
  {
    name: "51 attributes",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: attrs(51) }),
    paths: ["0.attributes"],
  },
  {
    name: "a string of 301 characters",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { bio: "x".repeat(301) } }),
    paths: ["0.attributes.bio"],
  },
  {
    name: "a bad attribute name",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { "bad-name": "x" } }),
    paths: ["0.attributes.bad-name"],
  },
  {
    name: "an attribute name of 31 characters",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { ["n".repeat(31)]: "x" } }),
    paths: [`0.attributes.${"n".repeat(31)}`],
  },
  {
    name: "an array of 26 strings",
    op: (c) => ({
      identifiers: { custom_id: c },
      attributes: { list: Array.from({ length: 26 }, (_, k) => `v${k}`) },
    }),
    paths: ["0.attributes.list"],
  },
  {
    name: "an array holding a number",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { list: ["a", 1] } }),
    paths: ["0.attributes.list"],
  },
  {
    name: "an invalid $email_address",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $email_address: "not-an-email" } }),
    paths: ["0.attributes.$email_address"],
  },
  {
    name: "a $phone_number not in E.164",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $phone_number: "0612345678" } }),
    paths: ["0.attributes.$phone_number"],
  },
  {
    name: '$email_marketing "yes"',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $email_marketing: "yes" } }),
    paths: ["0.attributes.$email_marketing"],
  },
  {
    name: '$sms_marketing "yes"',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $sms_marketing: "yes" } }),
    paths: ["0.attributes.$sms_marketing"],
  },
  {
    name: '$language "fra"',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $language: "fra" } }),
    paths: ["0.attributes.$language"],
  },
  {
    name: '$region "FRA"',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $region: "FRA" } }),
    paths: ["0.attributes.$region"],
  },
  {
    name: '$timezone "Nowhere/City"',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $timezone: "Nowhere/City" } }),
    paths: ["0.attributes.$timezone"],
  },
  {
    name: "an unknown native attribute $foo",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { $foo: "x" } }),
    paths: ["0.attributes.$foo"],
  },
  {
    name: "date(x) that is not ISO 8601",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { "date(x)": "22/11/2026" } }),
    paths: ["0.attributes.date(x)"],
  },
  {
    name: "url(x) over 2,048 characters",
    op: (c) => ({
      identifiers: { custom_id: c },
      attributes: { "url(x)": `https://example.com/${"p".repeat(2048)}` },
    }),
    paths: ["0.attributes.url(x)"],
  },
  {
    name: '{"$add": "x"}',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { list: { $add: "x" } } }),
    paths: ["0.attributes.list.$add"],
  },
  {
    name: '{"$push": []}',
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { list: { $push: [] } } }),
    paths: ["0.attributes.list"],
  },
  {
    name: "an event name with a space",
    op: (c) => ({ identifiers: { custom_id: c }, events: [{ name: "add to cart" }] }),
    paths: ["0.events.0.name"],
  },
  {
    name: "an event time 31 days ago",
    op: (c) => ({
      identifiers: { custom_id: c },
      events: [{ name: "old", time: new Date(Date.now() - 31 * DAY).toISOString() }],
    }),
    paths: ["0.events.0.time"],
  },
  {
    name: "an event time 10 minutes ahead",
    op: (c) => ({
      identifiers: { custom_id: c },
      events: [{ name: "ahead", time: new Date(Date.now() + 10 * 60_000).toISOString() }],
    }),
    paths: ["0.events.0.time"],
  },
  {
    name: "an event with 21 attributes",
    op: (c) => ({ identifiers: { custom_id: c }, events: [{ name: "wide", attributes: attrs(21) }] }),
    paths: ["0.events.0.attributes"],
  },
  {
    name: "an event attribute nested 2 levels deep",
    op: (c) => ({
      identifiers: { custom_id: c },
      events: [{ name: "deep", attributes: { address: { city: { name: "Paris" } } } }],
    }),
    paths: ["0.events.0.attributes.address"],
  },
  {
    name: "$tags with 11 items",
    op: (c) => ({
      identifiers: { custom_id: c },
      events: [{ name: "tagged", attributes: { $tags: Array.from({ length: 11 }, (_, k) => `t${k}`) } }],
    }),
    paths: ["0.events.0.$tags"],
  },
  {
    name: "an event $label over 200 characters",
    op: (c) => ({
      identifiers: { custom_id: c },
      events: [{ name: "labelled", attributes: { $label: "l".repeat(201) } }],
    }),
    paths: ["0.events.0.$label"],
  },
  {
    name: "an unknown field in an event",
    op: (c) => ({ identifiers: { custom_id: c }, events: [{ name: "e", colour: "red" }] }),
    paths: ["0.events.0.colour"],
  },
  {
    name: "an empty event id",
    op: (c) => ({ identifiers: { custom_id: c }, events: [{ name: "e", id: "" }] }),
    paths: ["0.events.0.id"],
  },
  {
    name: "an event attribute string of 301 characters",
    op: (c) => ({ identifiers: { custom_id: c }, events: [{ name: "e", attributes: { note: "n".repeat(301) } }] }),
    paths: ["0.events.0.attributes.note"],
  },
  {
    name: "the same attribute twice, in two cases",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { tier: "a", Tier: "b" } }),
    paths: ["0.attributes.Tier"],
  },
  {
    name: "an op time 31 days ago",
    op: (c) => ({
      identifiers: { custom_id: c },
      attributes: { a: 1 },
      time: new Date(Date.now() - 31 * DAY).toISOString(),
    }),
    paths: ["0.time"],
  },
  {
    name: "21 events",
    op: (c) => ({ identifiers: { custom_id: c }, events: Array.from({ length: 21 }, () => ({ name: "e" })) }),
    paths: ["0.events"],
  },
  {
    name: "an op time that is not ISO 8601",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { a: 1 }, time: "yesterday" }),
    paths: ["0.time"],
  },
  {
    name: "an unknown top-level field",
    op: (c) => ({ identifiers: { custom_id: c }, attributes: { a: 1 }, surprise: true }),
    paths: ["0.surprise"],
  },
];

describe("POST /v1/profiles/update: a request whose only operation is invalid is refused with 400", () => {
  it.each(cases)("$name", async ({ name, op, paths }) => {
    const customId = freshId(name.replace(/\W+/g, "_"));
    const error = await refused(await update(p, [op(customId)]), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(paths);
    for (const issue of error.issues ?? []) expect(issue.message.length).toBeGreaterThan(0);
    await expectNoProfile(customId);
  });

  it.each(["anonymous", "null", " "])(
    "a placeholder custom_id %j: 400 VALIDATION_FAILED naming 0.identifiers.custom_id",
    async (placeholder) => {
      const error = await refused(
        await update(p, [{ identifiers: { custom_id: placeholder }, attributes: { a: 1 } }]),
        400,
        "VALIDATION_FAILED",
      );
      expect(error.issues?.map((i) => i.path)).toEqual(["0.identifiers.custom_id"]);
      // GET /v1/profiles refuses a placeholder in its query, so the custom ID's object is asked directly.
      expect(await customIdStub(p.projectId, placeholder).view()).toBeNull();
    },
  );

  it("accepts every limit reached exactly (control)", async () => {
    const customId = freshId("limits");
    const res = await update(p, [
      {
        identifiers: { custom_id: customId },
        attributes: {
          ...attrs(45),
          s300: "s".repeat(300),
          list25: Array.from({ length: 25 }, (_, k) => `v${k}`),
          "url(u2048)": `https://example.com/${"p".repeat(2048 - 20)}`,
          ["n".repeat(30)]: 1,
          $language: "fr",
        },
        events: [
          { name: "wide", time: new Date(Date.now() - 29 * DAY).toISOString(), attributes: attrs(20) },
          {
            name: "tagged",
            time: new Date(Date.now() + 4 * 60_000).toISOString(),
            attributes: { $tags: Array.from({ length: 10 }, (_, k) => `t${k}`), flat: { city: "Paris" } },
          },
        ],
      },
    ]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    const { body } = await profileBy(p, { custom_id: customId });
    expect(Object.keys(body?.attributes ?? {})).toHaveLength(50);
    expect(body?.events.map((e) => e.name).sort()).toEqual(["tagged", "wide"]);
  });

  it("lists every problem of the operation, each by its own path", async () => {
    const customId = freshId("many");
    const res = await update(p, [
      {
        identifiers: { custom_id: customId },
        attributes: { $email_address: "nope", $language: "fra", ok: 1 },
        events: [{ name: "bad name" }],
      },
    ]);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path).sort()).toEqual([
      "0.attributes.$email_address",
      "0.attributes.$language",
      "0.events.0.name",
    ]);
    await expectNoProfile(customId);
  });

  it("lists every problem of the operation, whichever check finds it", async () => {
    // A bad identifier, an unknown field or a bad event shape hides no bad attribute or event name.
    const res = await update(p, [
      {
        identifiers: { installation_id: "not-a-uuid" },
        attributes: { $email_address: "nope" },
        events: [
          { name: "Bad Name!", extra: 1 },
          { name: "ok", time: "2020-01-01T00:00:00Z" },
        ],
        unknown: true,
      },
    ]);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path).sort()).toEqual([
      "0.attributes.$email_address",
      "0.events.0.extra",
      "0.events.0.name",
      "0.events.1.time",
      "0.identifiers.installation_id",
      "0.unknown",
    ]);
  });

  it("refuses both identifiers, or none, beside the operation's other problems", async () => {
    const res = await update(p, [
      { identifiers: {}, attributes: { $email_address: "nope" } },
      { identifiers: { custom_id: freshId("both"), installation_id: "x" }, events: [{ name: "a b" }] },
    ]);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path).sort()).toEqual([
      "0.attributes.$email_address",
      "0.identifiers",
      "1.events.0.name",
      "1.identifiers",
      "1.identifiers.installation_id",
    ]);
  });

  it("refuses a request where every one of several operations is invalid, listing each by index", async () => {
    const ids = [freshId("all0"), freshId("all1"), freshId("all2")];
    const res = await update(p, [
      { identifiers: { custom_id: ids[0] }, attributes: { $email_address: "nope" } },
      { identifiers: { custom_id: ids[1], installation_id: crypto.randomUUID() } },
      { identifiers: { custom_id: ids[2] }, events: [{ name: "a b" }] },
    ]);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual([
      "0.attributes.$email_address",
      "1.identifiers",
      "2.events.0.name",
    ]);
    for (const id of ids) await expectNoProfile(id);
  });
});

interface PartialAnswer {
  code: string;
  errors?: { bulk_index: number; category: string; reason: string; attribute?: string }[];
}

describe("POST /v1/profiles/update: partial errors", () => {
  it("skips invalid operations by bulk_index and applies the valid ones", async () => {
    const ids = Array.from({ length: 5 }, (_, k) => freshId(`partial${k}`));
    const res = await update(p, [
      { identifiers: { custom_id: ids[0] }, attributes: { tier: "gold" } },
      { identifiers: { custom_id: ids[1] }, attributes: { tier: "gold", $email_address: "nope" } },
      { identifiers: { custom_id: ids[2] }, attributes: { tier: "silver" } },
      { identifiers: { custom_id: ids[3] }, attributes: { tier: "gold" }, events: [{ name: "bad name" }] },
      { identifiers: { custom_id: ids[4] }, events: [{ name: "ok_event" }] },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "attributes", attribute: "$email_address" },
      { bulk_index: 3, category: "events", attribute: "0.name" },
    ]);
    for (const e of body.errors ?? []) expect(e.reason.length).toBeGreaterThan(0);

    expect((await profileBy(p, { custom_id: ids[0] as string })).body?.attributes.tier?.value).toBe("gold");
    expect((await profileBy(p, { custom_id: ids[2] as string })).body?.attributes.tier?.value).toBe("silver");
    expect((await profileBy(p, { custom_id: ids[4] as string })).body?.events.map((e) => e.name)).toEqual(["ok_event"]);
    await expectNoProfile(ids[1] as string);
    await expectNoProfile(ids[3] as string);
  });

  it("reports the category of each kind of problem", async () => {
    const ok = freshId("cat-ok");
    const res = await update(p, [
      { identifiers: { custom_id: ok }, attributes: { a: 1 } },
      { identifiers: {}, attributes: { a: 1 } },
      { identifiers: { installation_id: "nope" }, attributes: { a: 1 } },
      { identifiers: { custom_id: freshId("cat-time") }, attributes: { a: 1 }, time: "soon" },
      { identifiers: { custom_id: freshId("cat-extra") }, extra: 1 },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "identifiers" },
      { bulk_index: 2, category: "identifiers", attribute: "installation_id" },
      { bulk_index: 3, category: "operation", attribute: "time" },
      { bulk_index: 4, category: "operation", attribute: "extra" },
    ]);
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(1);
  });

  it("reports a placeholder custom_id beside valid operations as a partial error of that operation", async () => {
    const ok = freshId("ph-ok");
    const res = await update(p, [
      { identifiers: { custom_id: "anonymous" }, attributes: { a: 1 } },
      { identifiers: { custom_id: ok }, attributes: { a: 2 } },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 0, category: "identifiers", attribute: "custom_id" },
    ]);
    expect(await customIdStub(p.projectId, "anonymous").view()).toBeNull();
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(2);
  });

  it("reports an installation_id the SDK never sent as a partial error, and creates nothing for it", async () => {
    const ok = freshId("inst-ok");
    const unknown = crypto.randomUUID();
    const res = await update(p, [
      { identifiers: { custom_id: ok }, attributes: { a: 1 } },
      { identifiers: { installation_id: unknown }, attributes: { a: 1 }, events: [{ name: "e" }] },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "identifiers", attribute: "installation_id" },
    ]);
    expect((await profileBy(p, { installation_id: unknown })).status).toBe(404);
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(1);
  });

  it("reports an unknown installation_id as an error even when it is the only operation", async () => {
    const unknown = crypto.randomUUID();
    const res = await update(p, [{ identifiers: { installation_id: unknown }, attributes: { a: 1 } }]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 0, category: "identifiers", attribute: "installation_id" },
    ]);
    expect((await profileBy(p, { installation_id: unknown })).status).toBe(404);
  });

  it("accepts a known installation_id in any case (control)", async () => {
    const known = crypto.randomUUID();
    await batch(p, known, []);
    const res = await update(p, [{ identifiers: { installation_id: known.toUpperCase() }, attributes: { a: 1 } }]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
  });
});

describe("POST /v1/profiles/update: 250 custom attributes per profile", () => {
  const customId = "full-profile";
  const customCount = async () => {
    const { body } = await profileBy(p, { custom_id: customId });
    return Object.keys(body?.attributes ?? {}).filter((k) => !k.startsWith("$")).length;
  };

  it("fills a profile with 250 attributes in 5 operations of 50", async () => {
    const ops = Array.from({ length: 5 }, (_, k) => ({
      identifiers: { custom_id: customId },
      attributes: attrs(50, `f${k}_`),
    }));
    const res = await update(p, ops);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    expect(await customCount()).toBe(250);
  });

  it("refuses one more new attribute as a partial error of category attributes", async () => {
    const other = freshId("beside-full");
    const res = await update(p, [
      { identifiers: { custom_id: other }, attributes: { a: 1 } },
      { identifiers: { custom_id: customId }, attributes: { one_too_many: "x" } },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([{ bulk_index: 1, category: "attributes" }]);
    expect(body.errors?.[0]?.reason).toContain("250");
    const { body: profile } = await profileBy(p, { custom_id: customId });
    expect(profile?.attributes.one_too_many).toBeUndefined();
    expect(await customCount()).toBe(250);
    expect((await profileBy(p, { custom_id: other })).body?.attributes.a?.value).toBe(1);
  });

  it("still updates existing attributes and native attributes on a full profile", async () => {
    const res = await update(p, [
      { identifiers: { custom_id: customId }, attributes: { f0_0: "changed", $language: "de" } },
    ]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    const { body } = await profileBy(p, { custom_id: customId });
    expect(body?.attributes.f0_0?.value).toBe("changed");
    expect(body?.attributes.$language?.value).toBe("de");
    expect(await customCount()).toBe(250);
  });

  it("skips the events of an operation refused for the attribute limit", async () => {
    const res = await update(p, [
      { identifiers: { custom_id: customId }, attributes: { over_limit: 1 }, events: [{ name: "should_not_land" }] },
    ]);
    const body = await res.json<PartialAnswer>();
    expect(body.errors?.map((e) => [e.bulk_index, e.category])).toEqual([[0, "attributes"]]);
    const { body: profile } = await profileBy(p, { custom_id: customId });
    expect(profile?.attributes.over_limit).toBeUndefined();
    expect(profile?.events.map((e) => e.name)).not.toContain("should_not_land");
  });

  it("accepts a 251st attribute when the same operation deletes one", async () => {
    const res = await update(p, [{ identifiers: { custom_id: customId }, attributes: { f0_1: null, newcomer: "y" } }]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    const { body } = await profileBy(p, { custom_id: customId });
    expect(body?.attributes.f0_1).toBeUndefined();
    expect(body?.attributes.newcomer?.value).toBe("y");
    expect(await customCount()).toBe(250);
  });
});

describe("POST /v1/profiles/update: the request as a whole", () => {
  const op = (customId: string) => ({ identifiers: { custom_id: customId }, attributes: { a: 1 } });

  it("refuses a body that is not an array with 400 VALIDATION_FAILED", async () => {
    const customId = freshId("object");
    await refused(await update(p, op(customId)), 400, "VALIDATION_FAILED");
    await expectNoProfile(customId);
  });

  it("refuses an empty array with 400 VALIDATION_FAILED", async () => {
    await refused(await update(p, []), 400, "VALIDATION_FAILED");
  });

  it("refuses 201 operations with 400 VALIDATION_FAILED and applies none of them", async () => {
    const customId = freshId("201");
    const error = await refused(
      await update(
        p,
        Array.from({ length: 201 }, () => op(customId)),
      ),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.[0]?.message).toContain("200");
    await expectNoProfile(customId);
  });

  it("accepts exactly 200 operations (control)", async () => {
    const customId = freshId("200");
    const res = await update(
      p,
      Array.from({ length: 200 }, () => op(customId)),
    );
    expect(await res.json()).toEqual({ code: "SUCCESS" });
  });

  it("refuses malformed JSON with 400 INVALID_JSON", async () => {
    const customId = freshId("malformed");
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      raw: JSON.stringify([op(customId)]).slice(0, -1),
    });
    const error = await refused(res, 400, "INVALID_JSON");
    expect(error.issues).toBeUndefined();
    await expectNoProfile(customId);
  });

  it("refuses a body that is not JSON with 415", async () => {
    const customId = freshId("text");
    const res = await call("POST", "/v1/profiles/update", {
      headers: { ...restHeaders(p), "Content-Type": "text/plain" },
      raw: JSON.stringify([op(customId)]),
    });
    await refused(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectNoProfile(customId);
  });

  it.each(["/v1/profiles/update", "/2.3/profiles/update"])(
    "refuses a body over 5 MiB at %s with 413, and applies nothing",
    async (path) => {
      const customId = freshId("huge");
      // Whitespace keeps the body valid: only its size can refuse it.
      const res = await call("POST", path, {
        headers: restHeaders(p),
        raw: JSON.stringify([op(customId)]) + " ".repeat(5 * MiB),
      });
      const error = await refused(res, 413, "PAYLOAD_TOO_LARGE");
      expect(error.issues).toBeUndefined();
      await expectNoProfile(customId);
    },
  );

  it("accepts the same body just under 5 MiB (control)", async () => {
    const customId = freshId("big");
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      raw: JSON.stringify([op(customId)]) + " ".repeat(5 * MiB - 1024),
    });
    expect(res.status).toBe(202);
    expect((await profileBy(p, { custom_id: customId })).status).toBe(200);
  });
});

describe("POST /v1/profiles/mass-update: refused requests record nothing", () => {
  const massUpdate = (body: unknown) => call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body });

  it("refuses a body that is not an array", async () => {
    const customId = freshId("mass-object");
    const before = await requestRows();
    await refused(
      await massUpdate({ identifiers: { custom_id: customId }, attributes: { a: 1 } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(await requestRows()).toBe(before);
    await expectNoProfile(customId);
  });

  it("refuses an empty array", async () => {
    const before = await requestRows();
    await refused(await massUpdate([]), 400, "VALIDATION_FAILED");
    expect(await requestRows()).toBe(before);
  });

  it("refuses 10,001 operations", async () => {
    const customId = freshId("mass-10001");
    const before = await requestRows();
    const op = { identifiers: { custom_id: customId }, attributes: { a: 1 } };
    const error = await refused(await massUpdate(new Array(10_001).fill(op)), 400, "VALIDATION_FAILED");
    expect(error.issues?.[0]?.message).toContain("10000");
    expect(await requestRows()).toBe(before);
    await expectNoProfile(customId);
  });

  it("refuses a request where every operation is invalid, listing each by index", async () => {
    const ids = [freshId("mass-bad0"), freshId("mass-bad1")];
    const before = await requestRows();
    const error = await refused(
      await massUpdate([
        { identifiers: { custom_id: ids[0] }, attributes: { $region: "FRA" } },
        {
          identifiers: { custom_id: ids[1] },
          events: [{ name: "late", time: new Date(Date.now() - 31 * DAY).toISOString() }],
        },
      ]),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.map((i) => i.path)).toEqual(["0.attributes.$region", "1.events.0.time"]);
    expect(await requestRows()).toBe(before);
    for (const id of ids) await expectNoProfile(id);
  });

  it("refuses malformed JSON with INVALID_JSON", async () => {
    const before = await requestRows();
    const res = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), raw: "[{" });
    await refused(res, 400, "INVALID_JSON");
    expect(await requestRows()).toBe(before);
  });
});
