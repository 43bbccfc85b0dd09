/** Requests, bodies (malformed, oversized, near misses of a valid one), paths and queries. */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { BASE } from "../harness";
import { mutate, mutation, nastyString, toJsonText, weirdValue } from "./values";

export const NUM_RUNS = 60;
export const TEST_TIMEOUT = 90_000;
export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

export interface Body {
  /** What is shown when a run fails. */
  label: string;
  bytes: Uint8Array;
  contentType: string | null;
}

export interface Req {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers: Record<string, string>;
  body?: Body;
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export function clip(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

export function show(req: Req): string {
  const body = req.body
    ? ` [${req.body.label}] Content-Type: ${JSON.stringify(req.body.contentType)} body (${req.body.bytes.length} bytes): ${clip(JSON.stringify(decoder.decode(req.body.bytes)))}`
    : "";
  return `${req.method} ${clip(req.path, 300)}${body}`;
}

/** A request that fast-check prints compactly (bodies can be megabytes). */
export function req(r: Req): Req {
  return Object.defineProperty(r, fc.toStringMethod, { value: () => show(r), enumerable: false });
}

export function send(r: Req): Promise<Response> {
  const headers = new Headers(r.headers);
  if (r.body?.contentType != null) headers.set("Content-Type", r.body.contentType);
  // Bytes, not a string: a string body would get a default text/plain Content-Type.
  return exports.default.fetch(new Request(`${BASE}${r.path}`, { method: r.method, headers, body: r.body?.bytes }));
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

export const text =
  (label: string, contentType: string | null = "application/json") =>
  (t: string): Body => ({
    label,
    bytes: encoder.encode(t),
    contentType,
  });

export const CONTENT_TYPES = [
  null,
  "",
  "text/plain",
  "text/csv",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
  "application/JSON",
  "application/json;charset=utf-8",
  "application/vnd.api+json",
  "application/jsonx",
  "json",
  "*/*",
  "application/octet-stream",
];

export const LITERALS = [
  "",
  " ",
  "null",
  "true",
  "0",
  "undefined",
  "NaN",
  "Infinity",
  "-Infinity",
  "{",
  "[",
  "}",
  '"',
  '""',
  '{"a":}',
  "{'a':1}",
  '{"a":1,}',
  "[1,]",
  "\u0000",
  "0x10",
  "01",
  "1e999",
  '"\\ud800"',
  '{"a":"\\u00"}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  "[]",
  "{}",
  "[null]",
  "[{}]",
  "[[]]",
];

export function malformed(validText: fc.Arbitrary<string>): fc.Arbitrary<Body> {
  return fc.oneof(
    fc.string({ unit: "binary", maxLength: 100 }).map(text("random string")),
    fc.string({ unit: "grapheme-ascii", maxLength: 100 }).map(text("random ascii")),
    fc.constantFrom(...LITERALS).map(text("literal")),
    fc.tuple(validText, fc.nat()).map(([t, n]) => text("truncated")(t.slice(0, t.length ? n % t.length : 0))),
    fc
      .tuple(validText, fc.constantFrom("}", "]", ",", "x", "\u0000", "{}", " // comment", "\n[]"))
      .map(([t, tail]) => text("trailing garbage")(t + tail)),
    validText.map((t) => text("BOM")(`\ufeff${t}`)),
    validText.map((t) => text("single quotes")(t.replaceAll('"', "'"))),
    // The first key twice: JSON.parse keeps the last one, which is the wrong value here.
    fc
      .tuple(validText, weirdValue)
      .map(([t, v]) => text("duplicate key")(t.replace(/^\{"([^"]+)":/, (_, k) => `{"${k}":${toJsonText(v)},"${k}":`))),
    // Invalid UTF-8 inside an otherwise valid body.
    fc
      .tuple(validText, fc.nat(), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe0, 0xa4], [0xfe, 0xff]))
      .map(([t, n, bad]) => {
        const bytes = encoder.encode(t);
        const at = bytes.length ? n % bytes.length : 0;
        return {
          label: "invalid UTF-8",
          bytes: new Uint8Array([...bytes.slice(0, at), ...bad, ...bytes.slice(at)]),
          contentType: "application/json",
        };
      }),
  );
}

export const deepRaw: fc.Arbitrary<Body> = fc
  .tuple(fc.integer({ min: 500, max: 150_000 }), fc.constantFrom("arrays", "objects", "unclosed"))
  .map(([n, kind]) =>
    text(`${n} levels of ${kind}`)(
      kind === "arrays"
        ? "[".repeat(n) + "]".repeat(n)
        : kind === "objects"
          ? `${'{"a":'.repeat(n)}1${"}".repeat(n)}`
          : "[".repeat(n),
    ),
  );

export const oversized = new Map<number, Body>();
/** A syntactically valid JSON array one byte over the limit. */
export function oversize(maxBytes: number): Body {
  let body = oversized.get(maxBytes);
  if (!body) {
    const inner = "1,".repeat(Math.ceil(maxBytes / 2));
    body = text(`over ${maxBytes} bytes`)(`[${inner}1]`);
    oversized.set(maxBytes, body);
  }
  return body;
}

export interface BodyOptions {
  /** The route's body limit, when a body one byte over it is cheap enough to send. */
  maxBytes?: number;
  /** How many copies an array is grown to by a `repeat` mutation. */
  repeat?: number[];
  /** Bodies of the route's shape with arbitrary values in its fields. */
  shapes?: fc.Arbitrary<unknown>;
}

/** Every kind of body, built around a route's valid bodies. */
export function bodies(valid: fc.Arbitrary<unknown>, options: BodyOptions = {}): fc.Arbitrary<Body> {
  const m = mutation(options.repeat ?? [2, 101, 201]);
  const validText = valid.map(toJsonText);
  const choices: fc.WeightedArbitrary<Body>[] = [
    { weight: 10, arbitrary: fc.tuple(valid, m).map(([b, x]) => text("near miss")(toJsonText(mutate(b, x)))) },
    {
      weight: 3,
      arbitrary: fc.tuple(valid, m, m).map(([b, x, y]) => text("two near misses")(toJsonText(mutate(mutate(b, x), y)))),
    },
    { weight: 2, arbitrary: validText.map(text("valid")) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4, depthSize: "small" }).map((v) => text("json")(toJsonText(v))) },
    {
      weight: 1,
      arbitrary: fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }).map((v) => text("unicode json")(toJsonText(v))),
    },
    { weight: 4, arbitrary: malformed(validText) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(validText, fc.constantFrom(...CONTENT_TYPES))
        .map(([t, ct]) => text(`content type ${JSON.stringify(ct)}`, ct)(t)),
    },
    { weight: 1, arbitrary: deepRaw },
  ];
  if (options.shapes) choices.push({ weight: 8, arbitrary: options.shapes.map((v) => text("shaped")(toJsonText(v))) });
  if (options.maxBytes !== undefined) choices.push({ weight: 1, arbitrary: fc.constant(oversize(options.maxBytes)) });
  return fc.oneof(...choices);
}

// ---------------------------------------------------------------------------------------------
// Paths and queries
// ---------------------------------------------------------------------------------------------

export const MALFORMED_SEGMENTS = [
  "%",
  "%ZZ",
  "%E0%A4%A",
  "%00",
  "%ED%A0%80",
  "%FF",
  "%C0%AE",
  "..%2F..",
  "a%2Fb",
  "%2e%2e",
  "%20",
  "x".repeat(5000),
  "null",
  "undefined",
  "-",
  "_",
];

/** A path segment: encoded unicode, raw ASCII, malformed percent-encoding, UUIDs in any case. */
export const segment: fc.Arbitrary<string> = fc.oneof(
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  nastyString.map((s) => encodeURIComponent(s.toWellFormed())),
  fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9_.~!$&'()*+,;=:@-]{1,40}$/),
  fc.constantFrom(...MALFORMED_SEGMENTS),
);

export const MALFORMED_QUERIES = [
  "",
  "=",
  "&&",
  "custom_id",
  "custom_id=",
  "custom_id=%",
  "custom_id=%ZZ",
  "custom_id=%E0%A4%A",
  "custom_id=%ED%A0%80",
  "custom_id=%FF",
  "custom_id=%00",
  "custom_id=a&custom_id=b",
  "custom_id[]=a",
  "custom_id=a&installation_id=b",
  "profile_id=not-a-uuid",
  "installation_id=%20",
  "custom_id=+",
];

export function queryString(values: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("custom_id", "installation_id", "profile_id") },
    { weight: 1, arbitrary: fc.constantFrom("CUSTOM_ID", "custom_id[]", "foo", "", "__proto__", "limit") },
    { weight: 1, arbitrary: nastyString },
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.tuple(key, values), { maxLength: 3 }).map((p) => `${new URLSearchParams(p)}`) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 60 }).map((s) => s.replaceAll("#", "")) },
    { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_QUERIES) },
  );
}
