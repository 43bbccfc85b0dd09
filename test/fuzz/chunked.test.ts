/**
 * Chunked bodies, from outside: requests with no Content-Length, streamed in random-sized pieces
 * (a ReadableStream body, chunked-streams.support.ts), to the JSON endpoints (SDK batch, Profile
 * API update and mass update) and the CSV audience upload. Under the limit, a streamed body gets
 * what the same bytes sent whole get: each body goes whole to one project and streamed to
 * another, and the two answers (and what the read APIs then show) are equal up to generated IDs
 * and times. Pieces split UTF-8 sequences and CRLFs. Over the limit: chunked.over-limit.test.ts.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { encoder, MiB, pieceSizes, pieces, request, TEST_TIMEOUT } from "./chunked-streams.support";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g;

/** The answer with what differs between two projects masked: generated IDs (request, profile) and times. */
async function answer(res: Response) {
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text.replace(UUID, "<uuid>").replace(ISO_TIME, "<time>")) as unknown };
}

/** What the read API shows of a profile, without its generated IDs and times. */
async function shown(p: Project, query: { custom_id: string } | { installation_id: string }) {
  const { status, body } = await profileBy(p, query);
  if (!body) return { status };
  const values = Object.fromEntries(Object.entries(body.attributes).map(([k, v]) => [k, v.value]));
  return { status, custom_id: body.custom_id, attributes: values, events: body.events.map((e) => e.name) };
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/** Text that splits into several UTF-8 bytes and that JSON escapes. */
const unicodeText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom("é", "e\u0301", "日本語", "😀👍🏽", "ｕｓｅｒ", "a\u200bb", "\u202eabc", '"q"', "\\", "line\nbreak"),
);
const customId = fc.oneof(
  fc.tuple(fc.uuid(), unicodeText).map(([u, t]) => `c-${u}-${t}`),
  fc.constantFrom("null", "ｎｕｌｌ", " padded"),
);

const sdkOp = fc.oneof(
  fc.record({ id: fc.uuid(), type: fc.constant("identify"), custom_id: customId }),
  fc.record({
    id: fc.uuid(),
    type: fc.constant("attributes"),
    attributes: fc.record({ note: unicodeText, n: fc.integer() }),
  }),
  fc.record({ id: fc.uuid(), type: fc.constant("event"), name: fc.constantFrom("bought", "viewed", "Bad Name") }),
);

const sdkBody = fc.record({
  installation_id: fc.uuid(),
  ops: fc.array(sdkOp, { minLength: 1, maxLength: 6 }),
});

const profileOp = fc.record({
  identifiers: fc.oneof(fc.record({ custom_id: customId }), fc.record({ installation_id: fc.uuid() })),
  attributes: fc.record({ note: unicodeText, visits: fc.oneof(fc.integer(), fc.constant("x")) }, { requiredKeys: [] }),
});
const profileBody = fc.array(profileOp, { minLength: 1, maxLength: 4 });

/** A body's text, or a corruption of it: cut short, or with garbage after it. */
function jsonText<T>(body: fc.Arbitrary<T>): fc.Arbitrary<{ value: T; text: string }> {
  return fc
    .tuple(body, fc.nat(), fc.constantFrom("whole", "whole", "whole", "cut", "garbage"))
    .map(([value, n, how]) => {
      const text = JSON.stringify(value, null, n % 3);
      if (how === "cut") return { value, text: text.slice(0, n % text.length) };
      return { value, text: how === "garbage" ? `${text}}` : text };
    });
}

const csvValue = fc.oneof(
  fc.tuple(fc.nat(9999), unicodeText).map(([n, t]) => `m-${n}-${t.replaceAll("\n", "")}`),
  fc.constantFrom("", "   ", "custom_id", '"quoted, with comma"', '"a""b"', "ｕｓｅｒ", "x,y", '"open', "\ufeffm-bom"),
);
const csvBody = fc
  .tuple(fc.boolean(), fc.boolean(), fc.array(csvValue, { minLength: 1, maxLength: 20 }), fc.constantFrom("\n", "\r\n"))
  .map(([bom, header, values, end]) => `${bom ? "\ufeff" : ""}${header ? `custom_id${end}` : ""}${values.join(end)}`);

// ---------------------------------------------------------------------------------------------
// Under the limit: streamed is as whole
// ---------------------------------------------------------------------------------------------

describe("a chunked body under the limit is answered as the same body sent whole (fuzz)", () => {
  let whole: Project;
  let streamed: Project;
  beforeAll(async () => {
    [whole, streamed] = [await createProject(), await createProject()];
  });

  async function both(method: string, path: string, contentType: string, text: string, sizes: number[]) {
    const bytes = encoder.encode(text);
    const a = await answer(await request(whole, method, path, contentType, bytes));
    const b = await answer(await request(streamed, method, path, contentType, pieces({ head: bytes }, sizes).stream));
    expect(b, `${text.length} chars in pieces of ${sizes.join(",")}: ${text.slice(0, 300)}`).toEqual(a);
    return a;
  }

  it(
    "SDK batch: the same status, answer and resulting profile",
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonText(sdkBody), pieceSizes(64), async ({ value, text }, sizes) => {
          await both("POST", "/v1/sdk/batch", "application/json", text, sizes);
          const query = { installation_id: value.installation_id };
          expect(await shown(streamed, query)).toEqual(await shown(whole, query));
        }),
        { numRuns: 30 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "Profile API update: the same status, answer and resulting profiles",
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonText(profileBody), pieceSizes(64), async ({ value, text }, sizes) => {
          await both("POST", "/v1/profiles/update", "application/json", text, sizes);
          for (const op of value) {
            if (!("custom_id" in op.identifiers)) continue;
            const query = { custom_id: op.identifiers.custom_id };
            expect(await shown(streamed, query)).toEqual(await shown(whole, query));
          }
        }),
        { numRuns: 30 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "Profile API mass update: the same status and answer",
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonText(profileBody), pieceSizes(64), async ({ text }, sizes) => {
          await both("POST", "/v1/profiles/mass-update", "application/json", text, sizes);
        }),
        { numRuns: 20 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "CSV audience replace: the same status, answer and audience size",
    async () => {
      for (const p of [whole, streamed]) {
        const res = await call("POST", "/v1/audiences", {
          headers: restHeaders(p),
          body: { name: "aud", type: "custom_ids" },
        });
        expect(res.status).toBe(201);
      }
      await fc.assert(
        fc.asyncProperty(csvBody, pieceSizes(16), async (text, sizes) => {
          await both("PUT", "/v1/audiences/aud", "text/csv", text, sizes);
          const size = async (p: Project) =>
            answer(await call("GET", "/v1/audiences/aud", { headers: restHeaders(p) }));
          expect(await size(streamed)).toEqual(await size(whole));
        }),
        { numRuns: 30 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "a JSON body of exactly the limit, streamed, is accepted as whole",
    async () => {
      const cases = [
        { path: "/v1/sdk/batch", limit: MiB / 2, body: sdkBody },
        { path: "/v1/profiles/update", limit: 5 * MiB, body: profileBody },
      ] as const;
      const bodies = fc.constantFrom(...cases).chain((c) => fc.tuple(fc.constant(c), c.body as fc.Arbitrary<unknown>));
      await fc.assert(
        fc.asyncProperty(bodies, pieceSizes(256 * 1024, 1024), async ([c, value], sizes) => {
          const text = JSON.stringify(value);
          // Valid JSON of exactly `limit` bytes: the body, then spaces.
          const padded = text + " ".repeat(c.limit - encoder.encode(text).length);
          const a = await both("POST", c.path, "application/json", padded, sizes);
          expect(a.status).toBeLessThan(413);
        }),
        { numRuns: 6 },
      );
    },
    TEST_TIMEOUT,
  );
});
