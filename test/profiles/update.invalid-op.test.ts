import { describe, expect, it } from "vitest";
import { customIdStub, profileBy } from "../support/identity";
import { attrs, DAY, expectNoProfile, freshId, p, refused, update } from "./update-errors.support";

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
