/**
 * Chunked bodies, from outside: requests with no Content-Length, streamed in random-sized pieces
 * (a ReadableStream body), to the JSON endpoints (SDK batch, Profile API update and mass update)
 * and the CSV audience upload.
 *
 *  - Under the limit, a streamed body gets what the same bytes sent whole get: each body goes
 *    whole to one project and streamed to another, and the two answers (and what the read APIs
 *    then show) are equal up to generated IDs and times. Pieces split UTF-8 sequences and CRLFs.
 *  - Over the limit, it is a 413 in the envelope and nothing is written.
 *  - A CSV of nothing but blank lines is cut at the line cap: refused, and the upload stops being
 *    read before its end.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { profileBy } from "../support/identity";

const MiB = 1024 * 1024;
const TEST_TIMEOUT = 60_000;
const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

interface Streamed {
  stream: ReadableStream<Uint8Array>;
  /** Whether the reader got to the end, and whether it cancelled the stream. */
  ended: () => boolean;
  cancelled: () => boolean;
}

/** `total` bytes: `head`, then `fill` repeated, then `tail`, in pieces of the given sizes in turn. */
function pieces(
  parts: { head: Uint8Array; fill?: Uint8Array; total?: number; tail?: Uint8Array },
  sizes: number[],
): Streamed {
  const fill = parts.fill ?? new Uint8Array(0);
  const tail = parts.tail ?? new Uint8Array(0);
  const total = parts.total ?? parts.head.length + tail.length;
  const fillLength = total - parts.head.length - tail.length;
  let at = 0;
  let turn = 0;
  let ended = false;
  let cancelled = false;
  /** The bytes from `at` to `at + n`, built only as they are pulled: bodies are up to 128 MiB. */
  const slice = (from: number, n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; ) {
      const pos = from + i;
      if (pos < parts.head.length) {
        const part = parts.head.subarray(pos, Math.min(parts.head.length, pos + n - i));
        out.set(part, i);
        i += part.length;
      } else if (pos < parts.head.length + fillLength) {
        const into = (pos - parts.head.length) % fill.length;
        const part = fill.subarray(
          into,
          Math.min(fill.length, into + n - i, into + parts.head.length + fillLength - pos),
        );
        out.set(part, i);
        i += part.length;
      } else {
        const part = tail.subarray(pos - parts.head.length - fillLength, pos - parts.head.length - fillLength + n - i);
        out.set(part, i);
        i += part.length;
      }
    }
    return out;
  };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= total) {
        ended = true;
        controller.close();
        return;
      }
      const n = Math.min(sizes[turn++ % sizes.length] ?? 1, total - at);
      controller.enqueue(slice(at, n));
      at += n;
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, ended: () => ended, cancelled: () => cancelled };
}

function request(p: Project, method: string, path: string, contentType: string, body: BodyInit | ReadableStream) {
  const sdk = path === "/v1/sdk/batch";
  const headers = { ...(sdk ? sdkHeaders(p) : restHeaders(p)), "Content-Type": contentType };
  // @ts-expect-error workerd's Request takes a stream body with `duplex: "half"`
  const r = new Request(`${BASE}${path}`, { method, headers, body, duplex: "half" });
  if (body instanceof ReadableStream) expect(r.headers.has("content-length")).toBe(false);
  return exports.default.fetch(r);
}

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

/** Sizes taken in turn; large bodies get a floor, or a run of 1-byte pieces makes millions of reads. */
const pieceSizes = (max: number, min = 1) => fc.array(fc.integer({ min, max }), { minLength: 1, maxLength: 16 });

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

// ---------------------------------------------------------------------------------------------
// Over the limit: 413, nothing written
// ---------------------------------------------------------------------------------------------

const SPACES = encoder.encode(" ".repeat(64 * 1024));

async function massUpdates(p: Project): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM requests WHERE project_id = ?").bind(p.projectId).first<{
    n: number;
  }>();
  return row?.n ?? 0;
}

describe("a chunked body over the limit is a 413 and writes nothing (fuzz)", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  const JSON_ROUTES = [
    { path: "/v1/sdk/batch", limit: MiB / 2, runs: 8, piece: 32 * 1024 },
    { path: "/v1/profiles/update", limit: 5 * MiB, runs: 4, piece: 512 * 1024 },
    { path: "/v1/profiles/mass-update", limit: 50 * MiB, runs: 2, piece: 2 * MiB },
  ];
  for (const route of JSON_ROUTES) {
    it(
      `${route.path}: a valid body padded past ${route.limit} bytes`,
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.uuid(),
            fc.uuid(),
            fc.integer({ min: 1, max: 64 * 1024 }),
            pieceSizes(route.piece, route.piece / 16),
            async (installation, user, over, sizes) => {
              const customId = `big-${user}`;
              // Valid JSON whatever its length: the spaces sit between the value and its end.
              const [head, tail] =
                route.path === "/v1/sdk/batch"
                  ? [
                      `{"installation_id":"${installation}","ops":[{"id":"${user}","type":"identify","custom_id":"${customId}"}]`,
                      "}",
                    ]
                  : [`[{"identifiers":{"custom_id":"${customId}"},"attributes":{"tier":"gold"}}`, "]"];
              const body = pieces(
                { head: encoder.encode(head), fill: SPACES, total: route.limit + over, tail: encoder.encode(tail) },
                sizes,
              );
              const res = await request(p, "POST", route.path, "application/json", body.stream);
              expect(res.status).toBe(413);
              expect((await errorOf(res)).code).toBe("PAYLOAD_TOO_LARGE");
              expect((await profileBy(p, { custom_id: customId })).status).toBe(404);
              expect((await profileBy(p, { installation_id: installation })).status).toBe(404);
              expect(await massUpdates(p)).toBe(0);
            },
          ),
          { numRuns: route.runs },
        );
      },
      TEST_TIMEOUT,
    );
  }

  it(
    "CSV audience replace: valid IDs, then blank lines of spaces past 128 MiB",
    async () => {
      const members = await keptAudience(p, "over");
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uuid(), { minLength: 1, maxLength: 50 }),
          fc.integer({ min: 1, max: 64 * 1024 }),
          pieceSizes(2 * MiB, 64 * 1024),
          async (ids, over, sizes) => {
            const line = new Uint8Array(SPACES.length + 1).fill(32);
            line[SPACES.length] = 10;
            const body = pieces(
              { head: encoder.encode(`custom_id\n${ids.join("\n")}\n`), fill: line, total: 128 * MiB + over },
              sizes,
            );
            const res = await request(p, "PUT", "/v1/audiences/over", "text/csv", body.stream);
            expect(res.status).toBe(413);
            expect((await errorOf(res)).code).toBe("PAYLOAD_TOO_LARGE");
            expect(await members()).toBe(true);
          },
        ),
        { numRuns: 2 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "CSV audience replace: a stream of blank lines is cut at the line cap",
    async () => {
      const members = await keptAudience(p, "blank");
      const blank = fc.constantFrom("\n", "\r\n", "  \n", "\t\r\n", " \u3000\u00a0\n");
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uuid(), { maxLength: 5 }),
          fc.array(blank, { minLength: 1, maxLength: 8 }),
          pieceSizes(256 * 1024, 1024),
          async (ids, pattern, sizes) => {
            const head = encoder.encode(`custom_id\n${ids.map((id) => `${id}\n`).join("")}`);
            const fill = encoder.encode(pattern.join(""));
            // Three times the cap: the test ends even if the upload were read to its end.
            const lines = 3 * 1_100_000;
            const total = head.length + Math.ceil(lines / pattern.length) * fill.length;
            const body = pieces({ head, fill, total }, sizes);
            const res = await request(p, "PUT", "/v1/audiences/blank", "text/csv", body.stream);
            expect(res.status).toBe(400);
            const error = await errorOf(res);
            expect(error.issues).toEqual([
              { path: "line 1100001", message: "More than 1100000 lines, blank ones included." },
            ]);
            expect(body.ended()).toBe(false);
            expect(await members()).toBe(true);
          },
        ),
        { numRuns: 5 },
      );
    },
    TEST_TIMEOUT,
  );
});

/** Creates an audience with two members; the check says whether they are still all it holds. */
async function keptAudience(p: Project, name: string): Promise<() => Promise<boolean>> {
  const headers = restHeaders(p);
  expect((await call("POST", "/v1/audiences", { headers, body: { name, type: "custom_ids" } })).status).toBe(201);
  const put = await call("PUT", `/v1/audiences/${name}`, { headers, body: { ids: ["keep-1", "keep-2"] } });
  expect(put.status).toBe(200);
  const before = await put.json<{ size: number; updated_at: string }>();
  return async () => {
    const now = await (await call("GET", `/v1/audiences/${name}`, { headers })).json<typeof before>();
    return now.size === 2 && now.updated_at === before.updated_at;
  };
}
