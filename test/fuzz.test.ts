/**
 * Fuzzing every endpoint with a valid key for its scope: arbitrary JSON, near-miss valid shapes
 * (one field replaced, dropped, added or retyped), malformed bodies, wrong content types,
 * unicode and control characters, huge numbers, deep nesting, odd path segments and queries.
 *
 * For every response (SPEC §5):
 *  1. the status is never 5xx;
 *  2. every non-2xx response is the error envelope, its request_id equal to X-Request-Id;
 *  3. a refused request (4xx) wrote nothing: D1 row counts (and the audiences rows) are as
 *     before, and so are the Durable Objects of the installation and custom IDs the body names.
 *
 * Each endpoint gets its own project, so the REST rate limit (1,000 calls per 10 s per project)
 * is never reached. After a 2xx that writes asynchronously (queues), the run waits for D1 to
 * settle, so that a later refused request is not blamed for an earlier request's projection.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { listKeys } from "../src/exports/staging";
import { NATIVE_ATTRIBUTES } from "../src/identity/attributes";
import {
  adminHeaders,
  BASE,
  call,
  createProject,
  errorOf,
  type Project,
  restHeaders,
  sdkHeaders,
} from "./support/harness";
import { attributes, batch, customIdStub, event, identify, installationStub } from "./support/identity";
import { stagedEvents } from "./support/staged";

const NUM_RUNS = 60;
const TEST_TIMEOUT = 90_000;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

interface Body {
  /** What is shown when a run fails. */
  label: string;
  bytes: Uint8Array;
  contentType: string | null;
}

interface Req {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers: Record<string, string>;
  body?: Body;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function clip(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function show(req: Req): string {
  const body = req.body
    ? ` [${req.body.label}] Content-Type: ${JSON.stringify(req.body.contentType)} body (${req.body.bytes.length} bytes): ${clip(JSON.stringify(decoder.decode(req.body.bytes)))}`
    : "";
  return `${req.method} ${clip(req.path, 300)}${body}`;
}

/** A request that fast-check prints compactly (bodies can be megabytes). */
function req(r: Req): Req {
  return Object.defineProperty(r, fc.toStringMethod, { value: () => show(r), enumerable: false });
}

function send(r: Req): Promise<Response> {
  const headers = new Headers(r.headers);
  if (r.body?.contentType != null) headers.set("Content-Type", r.body.contentType);
  // Bytes, not a string: a string body would get a default text/plain Content-Type.
  return exports.default.fetch(new Request(`${BASE}${r.path}`, { method: r.method, headers, body: r.body?.bytes }));
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** A JSON literal JSON.stringify cannot produce (1e999 parses to Infinity), spliced in by `toJsonText`. */
const RAW = (literal: string) => `@@RAW:${literal}@@`;
const RAW_LITERALS = [
  "1e999",
  "-1e999",
  "1E400",
  "1e-999",
  "-0",
  "123456789012345678901234567890123456789",
  "9007199254740993",
  "0.000000000000000000000000000001",
  "1.7976931348623157e309",
];

function toJsonText(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replace(/"@@RAW:([^"@]+)@@"/g, "$1");
}

const UNICODE_SAMPLES = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\t",
  "\r\n",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u202eevil",
  "\ufeff",
  "\u200b",
  "\ud800",
  "\udfff",
  "a\ud83d",
  "😀",
  "e\u0301",
  "İ",
  "ß",
  "ﬀ",
  "null",
  "anonymous",
  "[object Object]",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "0",
  "-1",
  "%00",
  "%ZZ",
  "../..",
  "'; DROP TABLE profiles; --",
  "\\",
  '"',
  "x".repeat(31),
  "x".repeat(301),
  "x".repeat(513),
  "x".repeat(4097),
  "😀".repeat(300),
  "2026-11-22T10:00:00Z",
  "$email_address",
  "date(x)",
];

const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...UNICODE_SAMPLES) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid().map((u) => ` ${u}\n`) },
);

const hugeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER + 2,
    -0,
    1e21,
    2 ** 31,
    2 ** 63,
    -(2 ** 31) - 1,
    0.5,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(...RAW_LITERALS.map(RAW)),
);

function nest(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

const deepValue = fc
  .tuple(fc.integer({ min: 20, max: 1500 }), fc.constantFrom("array" as const, "object" as const))
  .map(([depth, kind]) => nest(depth, kind));

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: nastyString },
  { weight: 4, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3, depthSize: "small" }) },
  { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 30 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, fc.oneof(nastyString, hugeNumber), { maxKeys: 5 }) },
  { weight: 1, arbitrary: deepValue },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>({}, [], [[]], [{}], { $add: ["a"] }, { $add: "a" }, { $remove: [1] }),
  },
);

// ---------------------------------------------------------------------------------------------
// Near misses: a valid body with one thing wrong
// ---------------------------------------------------------------------------------------------

type Path = (string | number)[];
type Action = "replace" | "delete" | "add" | "retype" | "repeat";
interface Mutation {
  at: number;
  action: Action;
  key: string;
  value: unknown;
  times: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function nodePaths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) nodePaths(v, [...prefix, i], out);
  } else if (isObject(value)) for (const [k, v] of Object.entries(value)) nodePaths(v, [...prefix, k], out);
  return out;
}

/** Sets a property as JSON.parse would, so that `__proto__` is a plain key. */
function put(target: Record<string, unknown> | unknown[], key: string | number, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function retype(value: unknown): unknown {
  if (typeof value === "string") return Number.isNaN(Number(value)) ? 42 : Number(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return {};
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]));
  return Object.values(value as object);
}

function mutate(base: unknown, m: Mutation): unknown {
  const root = structuredClone(base);
  const paths = nodePaths(root);
  const path = paths[m.at % paths.length] ?? [];
  const get = (p: Path) => p.reduce<unknown>((node, k) => (node as Record<string | number, unknown>)[k], root);
  const node = get(path);
  const parent = path.length ? (get(path.slice(0, -1)) as Record<string, unknown> | unknown[]) : undefined;
  const last = path.at(-1) as string | number;
  const set = (value: unknown) => {
    if (!parent) return value;
    put(parent, last, value);
    return root;
  };
  switch (m.action) {
    case "replace":
      return set(m.value);
    case "delete":
      if (!parent) return m.value;
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last as string];
      return root;
    case "add":
      if (Array.isArray(node)) node.push(m.value);
      else if (isObject(node)) put(node, m.key, m.value);
      else return set(m.value);
      return root;
    case "retype":
      return set(retype(node));
    case "repeat":
      if (!Array.isArray(node) || node.length === 0) return set(retype(node));
      return set(Array.from({ length: m.times }, (_, i) => structuredClone(node[i % node.length])));
  }
}

function mutation(repeat: number[]): fc.Arbitrary<Mutation> {
  return fc.record({
    at: fc.nat(),
    action: fc.constantFrom<Action>("replace", "replace", "replace", "delete", "add", "add", "retype", "repeat"),
    key: fc.oneof(fc.constantFrom("extra", "id", "type", "$label", "__proto__", "date(x)", "$foo"), nastyString),
    value: weirdValue,
    times: fc.constantFrom(...repeat),
  });
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

const text =
  (label: string, contentType: string | null = "application/json") =>
  (t: string): Body => ({
    label,
    bytes: encoder.encode(t),
    contentType,
  });

const CONTENT_TYPES = [
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

const LITERALS = [
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

function malformed(validText: fc.Arbitrary<string>): fc.Arbitrary<Body> {
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

const deepRaw: fc.Arbitrary<Body> = fc
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

const oversized = new Map<number, Body>();
/** A syntactically valid JSON array one byte over the limit. */
function oversize(maxBytes: number): Body {
  let body = oversized.get(maxBytes);
  if (!body) {
    const inner = "1,".repeat(Math.ceil(maxBytes / 2));
    body = text(`over ${maxBytes} bytes`)(`[${inner}1]`);
    oversized.set(maxBytes, body);
  }
  return body;
}

interface BodyOptions {
  /** The route's body limit, when a body one byte over it is cheap enough to send. */
  maxBytes?: number;
  /** How many copies an array is grown to by a `repeat` mutation. */
  repeat?: number[];
  /** Bodies of the route's shape with arbitrary values in its fields. */
  shapes?: fc.Arbitrary<unknown>;
}

/** Every kind of body, built around a route's valid bodies. */
function bodies(valid: fc.Arbitrary<unknown>, options: BodyOptions = {}): fc.Arbitrary<Body> {
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

const MALFORMED_SEGMENTS = [
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
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  nastyString.map((s) => encodeURIComponent(s.toWellFormed())),
  fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9_.~!$&'()*+,;=:@-]{1,40}$/),
  fc.constantFrom(...MALFORMED_SEGMENTS),
);

const MALFORMED_QUERIES = [
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

function queryString(values: fc.Arbitrary<string>): fc.Arbitrary<string> {
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

// ---------------------------------------------------------------------------------------------
// What a request could have written
// ---------------------------------------------------------------------------------------------

const TABLES = [
  "projects",
  "apps",
  "requests",
  "request_chunks",
  "audiences",
  "audience_members",
  "export_files",
  "export_hours",
  "profiles",
  "profile_attributes",
  "installations",
] as const;

/** Row counts of every table, and the audiences rows whole (a refused replace must not touch them). */
async function d1State() {
  const results = await env.DB.batch([
    ...TABLES.map((t) => env.DB.prepare(`SELECT count(*) AS n FROM ${t}`)),
    env.DB.prepare("SELECT * FROM audiences ORDER BY project_id, name"),
  ]);
  const counts = Object.fromEntries(
    TABLES.map((t, i) => [t, (results[i]?.results[0] as { n: number } | undefined)?.n]),
  );
  // Event history is staged in R2: a refused request stages nothing (keys only, to stay cheap).
  let staged = 0;
  for await (const _ of listKeys(env.EXPORTS, "events/")) staged++;
  return { counts, staged, audiences: results[TABLES.length]?.results ?? [] };
}

interface Ids {
  installations: string[];
  customIds: string[];
}

const MAX_OBJECTS = 12;

function addId(list: string[], value: unknown) {
  if (typeof value !== "string" || value.length > 1024 || list.length >= MAX_OBJECTS) return;
  for (const v of [value, value.toLowerCase()]) if (!list.includes(v)) list.push(v);
}

/** The installation and custom IDs an SDK batch names. */
function sdkIds(body: unknown): Ids {
  const ids: Ids = { installations: [], customIds: [] };
  if (!isObject(body)) return ids;
  addId(ids.installations, body.installation_id);
  if (Array.isArray(body.ops))
    for (const op of body.ops.slice(0, 50)) if (isObject(op)) addId(ids.customIds, op.custom_id);
  return ids;
}

/** The installation and custom IDs a Profile API body names. */
function profileApiIds(body: unknown): Ids {
  const ids: Ids = { installations: [], customIds: [] };
  if (!Array.isArray(body)) return ids;
  for (const op of body.slice(0, 50)) {
    if (!isObject(op) || !isObject(op.identifiers)) continue;
    addId(ids.installations, op.identifiers.installation_id);
    addId(ids.customIds, op.identifiers.custom_id);
  }
  return ids;
}

/** What each named Durable Object holds; null for one that holds nothing. */
async function objectState(projectId: string, ids: Ids) {
  const state: Record<string, unknown> = {};
  for (const i of ids.installations) state[`installation ${i}`] = await installationStub(projectId, i).describe();
  for (const c of ids.customIds) state[`custom ID ${c}`] = await customIdStub(projectId, c).view();
  return state;
}

function parsedBody(body: Body | undefined): unknown {
  if (!body) return undefined;
  try {
    return JSON.parse(decoder.decode(body.bytes));
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until queued work (mass updates, events, the projection) has landed and D1 stands still. */
async function settle() {
  const deadline = Date.now() + 15_000;
  let last = "";
  let stable = 0;
  while (Date.now() < deadline) {
    const [pending, versions] = await env.DB.batch([
      env.DB.prepare(
        "SELECT count(*) AS n FROM requests r WHERE r.failure IS NULL AND r.chunks > (SELECT count(*) FROM request_chunks c WHERE c.request_id = r.id)",
      ),
      env.DB.prepare(
        "SELECT (SELECT coalesce(sum(version), 0) FROM profiles) + (SELECT coalesce(sum(version), 0) FROM installations) AS v",
      ),
    ]);
    const now = JSON.stringify([await d1State(), versions?.results]);
    if ((pending?.results[0] as { n: number } | undefined)?.n === 0 && now === last) {
      if (++stable >= 3) return;
    } else {
      stable = 0;
    }
    last = now;
    await sleep(60);
  }
}

/** What differs between two snapshots, one line per key: `events: 3 → 4`. */
function changes(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const json = (v: unknown) => clip(JSON.stringify(v) ?? "undefined", 300);
  return [...keys]
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${k}: ${json(before[k])} → ${json(after[k])}`);
}

interface Target {
  projectId: string;
  /** The Durable Objects a body names, checked on a refusal. */
  ids?: (body: unknown) => Ids;
  /** A 2xx queues work that writes D1 later. */
  async?: boolean;
}

/** Sends one request and checks the three properties. */
async function check(r: Req, target: Target): Promise<void> {
  const ids = target.ids?.(parsedBody(r.body)) ?? { installations: [], customIds: [] };
  const d1Before = await d1State();
  const objectsBefore = await objectState(target.projectId, ids);
  const res = await send(r);
  const answer = await res.clone().text();
  const where = `${show(r)}\n  → ${res.status} ${clip(answer, 400)}`;
  if (res.status >= 500) throw new Error(`status ${res.status}:\n  ${where}`);
  if (res.status < 200 || res.status >= 300) {
    try {
      await errorOf(res);
    } catch (error) {
      throw new Error(`not the error envelope (${(error as Error).message}):\n  ${where}`);
    }
  } else {
    await res.body?.cancel();
  }
  if (res.status >= 400) {
    const d1After = await d1State();
    const objectsAfter = await objectState(target.projectId, ids);
    const changed = [
      ...changes(d1Before.counts, d1After.counts),
      ...changes({ audiences: d1Before.audiences }, { audiences: d1After.audiences }),
      ...changes(objectsBefore, objectsAfter),
    ];
    if (changed.length) throw new Error(`a refused request wrote:\n    ${changed.join("\n    ")}\n  ${where}`);
  } else if (target.async) {
    await settle();
  }
}

async function fuzz(requests: fc.Arbitrary<Req>, target: Target, numRuns = NUM_RUNS) {
  await fc.assert(
    fc.asyncProperty(requests, (r) => check(r, target)),
    { numRuns },
  );
}

// ---------------------------------------------------------------------------------------------
// Valid bodies
// ---------------------------------------------------------------------------------------------

const nowIso = () => new Date().toISOString();

const CONTEXT = {
  platform: "ios",
  app_version: "4.2.0",
  sdk_version: "1.0.0",
  os_version: "18.1",
  device_model: "iPhone16,1",
  language: "fr",
  region: "FR",
  timezone: "Europe/Paris",
};

const SDK_OPS: Record<string, (id: string, customId: string) => Record<string, unknown>> = {
  identify: (id, customId) => ({ id, time: nowIso(), type: "identify", custom_id: customId }),
  attributes: (id) => ({
    id,
    type: "attributes",
    attributes: {
      plan: "pro",
      score: 3.5,
      vip: true,
      tags: ["a", "b"],
      "date(renewal)": "2026-01-01T00:00:00Z",
      "url(site)": "https://example.com",
      $email_address: "a@b.co",
      $language: "fr",
      old: null,
    },
  }),
  event: (id) => ({
    id,
    time: nowIso(),
    type: "event",
    name: "add_to_cart",
    attributes: { sku: "X1", price: 9.99, item: { sku: "a", qty: 1 }, items: [{ sku: "b" }] },
    $label: "label",
    $tags: ["t1"],
  }),
  push_token: (id) => ({ id, type: "push_token", provider: "apns", token: "tok" }),
  push_optin: (id) => ({ id, type: "push_optin", opted_in: true }),
  push_opened: (id) => ({ id, type: "push_opened", campaign_token: "ct" }),
  inapp: (id) => ({
    id,
    type: "inapp",
    event: "shown",
    campaign_token: "ct",
    campaign_id: "c1",
    cta_index: 1,
    cta_label: "Buy",
  }),
  logout: (id) => ({ id, type: "logout" }),
};

function sdkBatches(knownInstallation: string): fc.Arbitrary<unknown> {
  return fc
    .record({
      installation: fc.oneof(fc.constant(knownInstallation), fc.uuid()),
      seed: fc.uuid(),
      customId: fc.constantFrom("fz-user-1", "fz-user-2"),
      kinds: fc.subarray(Object.keys(SDK_OPS), { minLength: 1 }),
      context: fc.boolean(),
    })
    .map(({ installation, seed, customId, kinds, context }) => ({
      installation_id: installation,
      ...(context ? { context: CONTEXT } : {}),
      ops: kinds.map((k, i) => SDK_OPS[k]?.(`${seed}-${i}`, customId)),
    }));
}

function profileOperations(known: { customId: string; installation: string }): fc.Arbitrary<unknown> {
  const operation = fc
    .record({
      byCustomId: fc.boolean(),
      customId: fc.oneof(
        fc.constant(known.customId),
        fc.uuid().map((u) => `fz-${u}`),
      ),
      installation: fc.oneof(fc.constant(known.installation), fc.uuid()),
      seed: fc.uuid(),
      time: fc.boolean(),
    })
    .map(({ byCustomId, customId, installation, seed, time }) => ({
      identifiers: byCustomId ? { custom_id: customId } : { installation_id: installation },
      ...(time ? { time: nowIso() } : {}),
      attributes: {
        plan: "pro",
        visits: 3,
        "date(signup)": "2025-06-01T00:00:00Z",
        interests: { $add: ["golf"], $remove: ["tennis"] },
        $email_marketing: "subscribed",
        $phone_number: "+33612345678",
        gone: null,
      },
      events: [{ name: "bought", id: seed, time: nowIso(), attributes: { amount: 10, $label: "l" } }],
    }));
  return fc.array(operation, { minLength: 1, maxLength: 3 });
}

const whereLeaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      attribute: fc.oneof(
        fc.constantFrom("tier", "TIER", "$email_address", "$language", "visits", "plan", "date(x)", "$", ""),
        nastyString,
      ),
      op: fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte", "exists", "contains", "in", "like", "EQ"),
      value: fc.oneof(
        fc.constantFrom<unknown>("gold", 3, true, "2026-01-01T00:00:00Z", ["a", 1, false], []),
        weirdValue,
      ),
    },
    { requiredKeys: ["attribute", "op"] },
  ),
  fc.record({ has_custom_id: fc.oneof(fc.boolean(), weirdValue) }),
  fc.record({ in_audience: fc.oneof(fc.constantFrom("vip", "nope"), nastyString) }),
  fc.record({ platform: fc.oneof(fc.constantFrom("ios", "android", "web"), nastyString) }),
  fc.record({ push_optin: fc.oneof(fc.boolean(), weirdValue) }),
  fc.record({ email_marketing: fc.oneof(fc.constantFrom("subscribed", "unsubscribed"), nastyString) }),
  fc.record({
    last_activity: fc.record(
      {
        after: fc.oneof(
          fc.constantFrom("2020-01-01T00:00:00Z", "2020-01-01", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"),
          nastyString,
        ),
        before: fc.oneof(fc.constantFrom("2099-01-01T00:00:00+14:00", "2024-02-30T00:00:00Z"), nastyString),
      },
      { requiredKeys: [] },
    ),
  }),
);

/** A node with arbitrary keys: near the real ones, prototype names, or anything. */
const oddNode = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      "and",
      "or",
      "not",
      "attribute",
      "op",
      "value",
      "has_custom_id",
      "in_audience",
      "platform",
      "push_optin",
      "email_marketing",
      "last_activity",
      "constructor",
      "__proto__",
      "toString",
    ),
    nastyString,
  ),
  weirdValue,
  { minKeys: 1, maxKeys: 3 },
);

const whereTree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: whereLeaf },
    { weight: 1, arbitrary: oddNode },
    fc.record({ and: fc.array(tie("node"), { maxLength: 5 }) }),
    fc.record({ or: fc.array(tie("node"), { maxLength: 5 }) }),
    fc.record({ not: tie("node") }),
  ),
})).node;

const VALID_WHERE = [
  { attribute: "tier", op: "eq", value: "gold" },
  { and: [{ push_optin: true }, { platform: "ios" }] },
  { or: [{ has_custom_id: true }, { not: { attribute: "visits", op: "gte", value: 3 } }] },
  { in_audience: "vip" },
  { attribute: "interests", op: "contains", value: "golf" },
  { attribute: "plan", op: "in", value: ["pro", "free"] },
  { attribute: "$email_address", op: "exists" },
  { email_marketing: "subscribed" },
  { last_activity: { after: "2020-01-01T00:00:00Z", before: "2099-01-01T00:00:00Z" } },
];

/** Valid where trees: the shapes above, combined. */
const validWhere: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: fc.constantFrom<unknown>(...VALID_WHERE) },
    { weight: 1, arbitrary: fc.record({ and: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ or: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ not: tie("node") }) },
  ),
})).node;

function segmentQueries(profileId: string): fc.Arbitrary<unknown> {
  return fc.record(
    {
      where: validWhere,
      limit: fc.integer({ min: 1, max: 1000 }),
      cursor: fc.constant(btoa(profileId).replaceAll("=", "")),
      count_only: fc.boolean(),
    },
    { requiredKeys: ["where"] },
  );
}

function shapedSegmentQueries(profileId: string): fc.Arbitrary<unknown> {
  return fc.record(
    {
      where: whereTree,
      limit: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(0, 1001, 1.5, -1), hugeNumber),
      cursor: fc.oneof(
        fc.constant(btoa(profileId).replaceAll("=", "")),
        fc.constant(btoa(profileId.toUpperCase())),
        // The default unit is printable ASCII, which btoa takes.
        fc.string({ maxLength: 40 }).map((s) => btoa(s)),
        nastyString,
      ),
      count_only: fc.oneof(fc.boolean(), weirdValue),
    },
    { requiredKeys: ["where"] },
  );
}

// ---------------------------------------------------------------------------------------------
// Shaped bodies: the route's fields, each with an arbitrary (often invalid) value
// ---------------------------------------------------------------------------------------------

const DAY = 24 * 3600 * 1000;

/** Op and event times around the accepted window (30 days back, 5 minutes ahead), and garbage. */
const opTime: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -31 * DAY, max: 10 * 60 * 1000 }).map((offset) => new Date(Date.now() + offset).toISOString()),
  fc
    .integer({ min: -DAY, max: 0 })
    .map((offset) => new Date(Date.now() + offset).toISOString().replace("Z", "+00:00").replace(/\.\d+/, "")),
  fc.constantFrom("2026-13-01T00:00:00Z", "1970-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "now", "", "T"),
  nastyString,
);

const attributeKey: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "plan",
      "PLAN",
      "a".repeat(30),
      "a".repeat(31),
      "date(d)",
      "url(u)",
      "date()",
      "url(x",
      "DATE(d)",
      ...NATIVE_ATTRIBUTES,
      "$unknown",
      "$",
      "__proto__",
      "constructor",
      "tostring",
      "$label",
      "$tags",
    ),
  },
  { weight: 1, arbitrary: nastyString },
);

const attributeValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: weirdValue },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "a@b.co",
      " a@b.co ",
      "subscribed",
      "+33612345678",
      "fr",
      "FR",
      "Europe/Paris",
      "Mars/Olympus",
      "2026-01-01T00:00:00Z",
      "https://example.com",
      "not a url",
    ),
  },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 300 }), { maxLength: 26 }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { $add: fc.oneof(fc.array(nastyString, { maxLength: 3 }), weirdValue), $remove: fc.array(nastyString) },
      { requiredKeys: [] },
    ),
  },
);

const flatObject = fc.dictionary(
  fc.oneof(fc.constantFrom("k", "__proto__", "constructor", ""), nastyString),
  fc.oneof(nastyString, hugeNumber, fc.boolean(), fc.constant(null), fc.array(nastyString, { maxLength: 3 })),
  { maxKeys: 5 },
);

const attributesObject = fc.dictionary(attributeKey, attributeValue, { maxKeys: 8 });
const eventAttributes = fc.dictionary(
  attributeKey,
  fc.oneof(attributeValue, flatObject, fc.array(flatObject, { maxLength: 3 })),
  { maxKeys: 6 },
);
const eventName = fc.oneof(
  fc.constantFrom("bought", "BOUGHT", "a".repeat(30), "a".repeat(31), "constructor", "__proto__", "e-1"),
  nastyString,
);
const opId = fc.oneof({ weight: 4, arbitrary: fc.uuid() }, { weight: 1, arbitrary: nastyString });
const customId = fc.oneof(
  fc.constantFrom("fz-user-1", "fz-user-2", "fz-known", "fz-known-api"),
  nastyString,
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
);

function shapedSdkBatches(knownInstallation: string): fc.Arbitrary<unknown> {
  const op = fc.oneof(
    fc.record(
      { id: opId, type: fc.constant("identify"), custom_id: customId, time: opTime },
      { requiredKeys: ["id", "type", "custom_id"] },
    ),
    fc.record({ id: opId, type: fc.constant("attributes"), attributes: fc.oneof(attributesObject, weirdValue) }),
    fc.record(
      {
        id: opId,
        type: fc.constant("event"),
        name: eventName,
        time: opTime,
        attributes: eventAttributes,
        $label: fc.oneof(nastyString, fc.constantFrom("", "l".repeat(201))),
        $tags: fc.oneof(fc.array(nastyString, { maxLength: 11 }), weirdValue),
      },
      { requiredKeys: ["id", "type", "name"] },
    ),
    fc.record({
      id: opId,
      type: fc.constant("push_token"),
      provider: fc.oneof(fc.constantFrom("apns", "fcm", "hms", "webpush", "APNS"), nastyString),
      token: fc.oneof(nastyString, fc.constant("t".repeat(4097))),
    }),
    fc.record({ id: opId, type: fc.constant("push_optin"), opted_in: fc.oneof(fc.boolean(), weirdValue) }),
    fc.record(
      { id: opId, type: fc.constant("push_opened"), campaign_token: nastyString, transactional_token: nastyString },
      { requiredKeys: ["id", "type"] },
    ),
    fc.record(
      {
        id: opId,
        type: fc.constant("inapp"),
        event: fc.oneof(fc.constantFrom("supplied", "shown", "clicked", "closed"), nastyString),
        campaign_token: nastyString,
        campaign_id: nastyString,
        cta_index: fc.oneof(fc.integer({ min: -1, max: 101 }), hugeNumber),
        cta_label: nastyString,
      },
      { requiredKeys: ["id", "type", "event", "campaign_token"] },
    ),
    fc.record({ id: opId, type: fc.constant("logout"), time: opTime }, { requiredKeys: ["id", "type"] }),
  );
  const context = fc.record(
    {
      platform: fc.oneof(fc.constantFrom("ios", "android", "web"), nastyString),
      app_version: nastyString,
      sdk_version: nastyString,
      os_version: nastyString,
      device_model: fc.oneof(nastyString, fc.constant("d".repeat(129))),
      language: fc.oneof(fc.constantFrom("fr", "FR", "fra", "zz"), nastyString),
      region: fc.oneof(fc.constantFrom("fr", "FR", "FRA"), nastyString),
      timezone: fc.oneof(
        fc.constantFrom("Europe/Paris", "UTC", "Etc/GMT+5", "Mars/Olympus", "europe/paris"),
        nastyString,
      ),
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      installation_id: fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(knownInstallation, knownInstallation.toUpperCase()) },
        { weight: 2, arbitrary: fc.uuid() },
        { weight: 1, arbitrary: nastyString },
      ),
      context: fc.oneof(context, weirdValue),
      ops: fc.oneof({ weight: 4, arbitrary: fc.array(op, { maxLength: 6 }) }, { weight: 1, arbitrary: weirdValue }),
    },
    { requiredKeys: ["installation_id", "ops"] },
  );
}

function shapedProfileOperations(knownInstallation: string): fc.Arbitrary<unknown> {
  const installation = fc.oneof(
    fc.constantFrom(knownInstallation, knownInstallation.toUpperCase()),
    fc.uuid(),
    nastyString,
  );
  const operation = fc.record(
    {
      identifiers: fc.oneof(
        { weight: 3, arbitrary: fc.record({ custom_id: customId }) },
        { weight: 3, arbitrary: fc.record({ installation_id: installation }) },
        { weight: 1, arbitrary: fc.record({ custom_id: customId, installation_id: installation }) },
        { weight: 1, arbitrary: weirdValue },
      ),
      attributes: fc.oneof({ weight: 3, arbitrary: attributesObject }, { weight: 1, arbitrary: weirdValue }),
      events: fc.oneof(
        {
          weight: 3,
          arbitrary: fc.array(
            fc.record(
              { name: eventName, id: opId, time: opTime, attributes: eventAttributes },
              { requiredKeys: ["name"] },
            ),
            { maxLength: 3 },
          ),
        },
        { weight: 1, arbitrary: weirdValue },
      ),
      time: opTime,
    },
    { requiredKeys: ["identifiers"] },
  );
  return fc.oneof({ weight: 5, arbitrary: fc.array(operation, { maxLength: 5 }) }, { weight: 1, arbitrary: operation });
}

// ---------------------------------------------------------------------------------------------
// Setup helpers
// ---------------------------------------------------------------------------------------------

const withRestHeaders = (p: Project) =>
  fc
    .boolean()
    .map((batchHeader) =>
      batchHeader ? { Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId } : restHeaders(p),
    );

async function seedProfiles(p: Project) {
  const installation = crypto.randomUUID();
  const answer = await batch(p, installation, [
    identify("fz-known"),
    attributes({ tier: "gold", interests: ["golf"] }),
    event("opened"),
  ]);
  const update = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: [{ identifiers: { custom_id: "fz-known-api" }, attributes: { plan: "pro" } }],
  });
  expect(update.status).toBe(202);
  await settle();
  return { installation, customId: "fz-known", apiCustomId: "fz-known-api", profileId: answer.profile_id };
}

async function ensureAudiences(p: Project) {
  const existing = await env.DB.prepare("SELECT name FROM audiences WHERE project_id = ?")
    .bind(p.projectId)
    .all<{ name: string }>();
  const names = new Set(existing.results.map((r) => r.name));
  for (const [name, type, ids] of [
    ["vip", "custom_ids", ["fz-a", "fz-b"]],
    ["devices", "installation_ids", [crypto.randomUUID()]],
  ] as const) {
    if (names.has(name)) continue;
    const created = await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type } });
    expect(created.status).toBe(201);
    const put = await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } });
    expect(put.status).toBe(200);
  }
}

const audienceName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("vip", "devices") },
  { weight: 1, arbitrary: fc.constantFrom("VIP", "nope", "a".repeat(100), "a".repeat(101)) },
  { weight: 2, arbitrary: segment },
);

const csvValue = fc.oneof(
  fc.constantFrom(
    "fz-a",
    "fz-c",
    "custom_id",
    "id",
    "installation_id",
    "",
    " ",
    '"quoted"',
    '"unterminated',
    'a"b',
    '"a""b"',
    '"a"b',
    "a,b",
    "null",
    "anonymous",
    "\u0000",
    "x".repeat(513),
    "x".repeat(70_000),
  ),
  nastyString,
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
);

const csvBodies: fc.Arbitrary<Body> = fc
  .record({
    lines: fc.array(csvValue, { maxLength: 15 }),
    eol: fc.constantFrom("\n", "\r\n", "\r"),
    trailing: fc.boolean(),
    bom: fc.boolean(),
    contentType: fc.constantFrom(
      "text/csv",
      "text/csv; charset=utf-8",
      'text/csv; charset="UTF-8"',
      "text/CSV",
      "text/csv; charset=latin1",
      "text/csv;charset=utf8",
    ),
    bad: fc.option(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80])),
  })
  .map(({ lines, eol, trailing, bom, contentType, bad }) => {
    const bytes = encoder.encode(`${bom ? "\ufeff" : ""}${lines.join(eol)}${trailing ? eol : ""}`);
    return {
      label: "csv",
      bytes: bad ? new Uint8Array([...bytes, ...bad, 0x0a]) : bytes,
      contentType,
    };
  });

const idLists = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("fz-a", "fz-b", "fz-new") },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: nastyString.filter((s) => s.length < 600) },
  ),
  { maxLength: 5 },
);

// ---------------------------------------------------------------------------------------------
// The endpoints
// ---------------------------------------------------------------------------------------------

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "POST /v1/admin/projects",
    async () => {
      const valid = fc.record(
        { name: fc.constantFrom("Acme", "Fuzz Co", " padded "), inactivity_days: fc.integer({ min: 1, max: 3650 }) },
        { requiredKeys: ["name"] },
      );
      const shapes = fc.record(
        {
          name: fc.oneof(nastyString, fc.constantFrom("x".repeat(100), "x".repeat(101), "   ")),
          inactivity_days: fc.oneof(fc.constantFrom(0, 1, 3650, 3651, 1.5), hugeNumber, weirdValue),
        },
        { requiredKeys: [] },
      );
      const requests = bodies(valid, { maxBytes: MiB, shapes }).map((body) =>
        req({ method: "POST", path: "/v1/admin/projects", headers: adminHeaders, body }),
      );
      await fuzz(requests, { projectId: "none" });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/admin/projects/{project_id}/apps",
    async () => {
      const p = await createProject();
      const valid = fc.record({
        name: fc.constantFrom("App", "Web app"),
        platform: fc.constantFrom("ios", "android", "web"),
      });
      const shapes = fc.record(
        {
          name: fc.oneof(nastyString, fc.constantFrom("x".repeat(100), "x".repeat(101))),
          platform: fc.oneof(fc.constantFrom("ios", "IOS", "windows", "constructor"), nastyString),
        },
        { requiredKeys: [] },
      );
      const projectSegment = fc.oneof(
        { weight: 4, arbitrary: fc.constant(p.projectId) },
        { weight: 1, arbitrary: fc.constant(p.projectId.toUpperCase()) },
        { weight: 2, arbitrary: segment },
      );
      const requests = fc
        .tuple(projectSegment, bodies(valid, { maxBytes: MiB, shapes }))
        .map(([id, body]) =>
          req({ method: "POST", path: `/v1/admin/projects/${id}/apps`, headers: adminHeaders, body }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET /v1/admin/projects/{project_id}",
    async () => {
      const p = await createProject();
      const requests = fc
        .tuple(
          fc.oneof(fc.constant(p.projectId), fc.constant(p.projectId.toUpperCase()), segment),
          fc.option(queryString(nastyString)),
        )
        .map(([id, query]) =>
          req({
            method: "GET",
            path: `/v1/admin/projects/${id}${query === null ? "" : `?${query}`}`,
            headers: adminHeaders,
          }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/sdk/batch",
    async () => {
      const p = await createProject();
      const known = crypto.randomUUID();
      await batch(p, known, [identify("fz-user-1"), attributes({ plan: "free" })]);
      await settle();
      const requests = bodies(sdkBatches(known), {
        maxBytes: MiB / 2,
        repeat: [2, 101],
        shapes: shapedSdkBatches(known),
      }).map((body) => req({ method: "POST", path: "/v1/sdk/batch", headers: sdkHeaders(p), body }));
      await fuzz(requests, { projectId: p.projectId, ids: sdkIds, async: true });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET /v1/profiles?<query>",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      const values = fc.oneof(
        fc.constantFrom(
          known.customId,
          known.apiCustomId,
          known.installation,
          known.installation.toUpperCase(),
          known.profileId,
          known.profileId.toUpperCase(),
        ),
        fc.uuid(),
        nastyString,
      );
      const exact = fc
        .tuple(
          fc.constantFrom("custom_id", "installation_id", "profile_id"),
          fc.constantFrom(known.customId, known.apiCustomId, known.installation, known.profileId),
          fc.boolean(),
        )
        .map(([key, value, upper]) => `${new URLSearchParams({ [key]: upper ? value.toUpperCase() : value })}`);
      const query = fc.oneof({ weight: 3, arbitrary: queryString(values) }, { weight: 1, arbitrary: exact });
      const requests = fc
        .tuple(fc.constantFrom("/v1/profiles", "/v1/profiles/"), query, withRestHeaders(p))
        .map(([path, query, headers]) => req({ method: "GET", path: `${path}?${query}`, headers }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/profiles/update and /2.{minor}/profiles/update",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      const path = fc.oneof(
        { weight: 3, arbitrary: fc.constant("/v1/profiles/update") },
        { weight: 2, arbitrary: fc.nat({ max: 1_000_000 }).map((n) => `/2.${n}/profiles/update`) },
        { weight: 1, arbitrary: fc.constantFrom("/2.99999999999999999999/profiles/update", "/2.01/profiles/update") },
      );
      const valid = profileOperations({ customId: known.apiCustomId, installation: known.installation });
      const options = { maxBytes: 5 * MiB, repeat: [2, 21, 201], shapes: shapedProfileOperations(known.installation) };
      const requests = fc
        .tuple(path, bodies(valid, options), withRestHeaders(p))
        .map(([path, body, headers]) => req({ method: "POST", path, headers, body }));
      await fuzz(requests, { projectId: p.projectId, ids: profileApiIds, async: true });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/profiles/mass-update and /2.{minor}/profiles/mass-update",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      const path = fc.oneof(
        fc.constant("/v1/profiles/mass-update"),
        fc.nat({ max: 1_000 }).map((n) => `/2.${n}/profiles/mass-update`),
      );
      const valid = profileOperations({ customId: known.apiCustomId, installation: known.installation });
      const options = { repeat: [2, 21, 10_001], shapes: shapedProfileOperations(known.installation) };
      const requests = fc
        .tuple(path, bodies(valid, options), withRestHeaders(p))
        .map(([path, body, headers]) => req({ method: "POST", path, headers, body }));
      await fuzz(requests, { projectId: p.projectId, ids: profileApiIds, async: true });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET /v1/requests/{request_id}",
    async () => {
      const p = await createProject();
      const queued = await call("POST", "/v1/profiles/mass-update", {
        headers: restHeaders(p),
        body: [{ identifiers: { custom_id: "fz-mass" }, attributes: { plan: "pro" } }],
      });
      expect(queued.status).toBe(202);
      const { request_id } = await queued.json<{ request_id: string }>();
      await settle();
      const requests = fc
        .tuple(
          fc.oneof(fc.constant(request_id), fc.constant(request_id.toUpperCase()), segment),
          fc.option(queryString(nastyString)),
          withRestHeaders(p),
        )
        .map(([id, query, headers]) =>
          req({ method: "GET", path: `/v1/requests/${id}${query === null ? "" : `?${query}`}`, headers }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/segments/query",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      await ensureAudiences(p);
      const options = { maxBytes: MiB, repeat: [2, 21, 101], shapes: shapedSegmentQueries(known.profileId) };
      const requests = fc
        .tuple(bodies(segmentQueries(known.profileId), options), withRestHeaders(p))
        .map(([body, headers]) => req({ method: "POST", path: "/v1/segments/query", headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/audiences",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const valid = fc.record(
        {
          name: fc.oneof(fc.constantFrom("vip", "new-one"), fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/)),
          type: fc.constantFrom("custom_ids", "installation_ids"),
          description: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 })),
        },
        { requiredKeys: ["name", "type"] },
      );
      const shapes = fc.record(
        {
          name: fc.oneof(audienceName, nastyString),
          type: fc.oneof(fc.constantFrom("custom_ids", "installation_ids", "CUSTOM_IDS", "constructor"), nastyString),
          description: fc.oneof(nastyString, fc.constantFrom("d".repeat(500), "d".repeat(501)), weirdValue),
        },
        { requiredKeys: [] },
      );
      const requests = fc
        .tuple(bodies(valid, { maxBytes: MiB, shapes }), withRestHeaders(p))
        .map(([body, headers]) => req({ method: "POST", path: "/v1/audiences", headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "PUT /v1/audiences/{name} (JSON and CSV)",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const shapes = fc.record({
        ids: fc.oneof(fc.array(fc.oneof(csvValue, weirdValue), { maxLength: 8 }), weirdValue),
      });
      const json = bodies(fc.record({ ids: idLists }), { repeat: [2, 10_001], shapes });
      const requests = fc
        .tuple(audienceName, fc.oneof(json, csvBodies), withRestHeaders(p))
        .map(([name, body, headers]) => req({ method: "PUT", path: `/v1/audiences/${name}`, headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "PATCH /v1/audiences/{name}",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const valid = fc.record({ add: idLists, remove: idLists }, { requiredKeys: [] });
      const list = fc.oneof(fc.array(fc.oneof(csvValue, weirdValue), { maxLength: 8 }), weirdValue);
      const shapes = fc.record({ add: list, remove: list }, { requiredKeys: [] });
      const requests = fc
        .tuple(audienceName, bodies(valid, { maxBytes: MiB, repeat: [2, 10_001], shapes }), withRestHeaders(p))
        .map(([name, body, headers]) => req({ method: "PATCH", path: `/v1/audiences/${name}`, headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET and DELETE /v1/audiences/{name}, GET /v1/audiences",
    async () => {
      const p = await createProject();
      const requests = fc
        .tuple(
          fc.constantFrom("GET" as const, "DELETE" as const),
          fc.oneof(
            { weight: 4, arbitrary: audienceName.map((n) => `/${n}`) },
            { weight: 1, arbitrary: fc.constant("") },
          ),
          fc.option(queryString(nastyString)),
          withRestHeaders(p),
        )
        .map(([method, name, query, headers]) =>
          req({ method, path: `/v1/audiences${name}${query === null ? "" : `?${query}`}`, headers }),
        );
      await fc.assert(
        fc.asyncProperty(requests, async (r) => {
          await ensureAudiences(p);
          await check(r, { projectId: p.projectId });
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );
});

/** A flat object of `keys` 300-character strings: valid in event attributes, about 310 bytes a key. */
const flatOf = (keys: number) => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, "x".repeat(300)]));

/** Waits until the projection holds the installation and R2 has staged `events` of its events. */
async function waitForLanding(installation: string, events: number) {
  await vi.waitFor(
    async () => {
      const projected = await env.DB.prepare("SELECT count(*) AS n FROM installations WHERE installation_id = ?")
        .bind(installation)
        .first<{ n: number }>();
      const landed = (await stagedEvents(null)).filter((e) => e.installation_id === installation);
      expect(projected?.n).toBe(1);
      expect(landed).toHaveLength(events);
    },
    { timeout: 8_000, interval: 200 },
  );
}

describe("regressions for bugs the fuzz runs found", () => {
  it("a where node keyed by an Object.prototype name is a 400, not a 500 (segments-prototype-key)", async () => {
    // Was: `CONDITIONS[head]` in src/segments/where.ts found the inherited member, then
    // "schema.safeParse is not a function": 500.
    const p = await createProject();
    for (const where of [{ constructor: 1 }, { toString: true }, { and: [{ push_optin: true }, { valueOf: 1 }] }]) {
      const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
    }
    const raw = await call("POST", "/v1/segments/query", { headers: restHeaders(p), raw: '{"where":{"__proto__":1}}' });
    expect(raw.status).toBe(400);
    await errorOf(raw);
  });

  it("a mass-update operation larger than a queue message is refused, not a 500 (mass-update-oversized-message)", async () => {
    // Was: the ~140 KB operation became one queue message over 128 KB; sendBatch threw, the
    // answer was a 500 and a `requests` row marked failed was left behind.
    const p = await createProject();
    const events = Array.from({ length: 5 }, (_, i) => ({ name: `e${i}`, attributes: { o: flatOf(90) } }));
    const big = { identifiers: { custom_id: "fz-big" }, events };
    const before = await d1State();
    const alone = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body: [big] });
    expect(alone.status).toBe(400);
    await errorOf(alone);
    expect(await d1State()).toEqual(before);

    const small = { identifiers: { custom_id: "fz-small" }, attributes: { plan: "pro" } };
    const mixed = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body: [small, big] });
    expect(mixed.status).toBe(202);
    const answer = await mixed.json<{ code: string; errors: { bulk_index: number }[] }>();
    expect(answer.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(answer.errors.map((e) => e.bulk_index)).toEqual([1]);
    await settle();
    const failed = await env.DB.prepare(
      "SELECT count(*) AS n FROM requests WHERE project_id = ? AND failure IS NOT NULL",
    )
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(failed?.n).toBe(0);
  });

  it("an accepted SDK batch whose events exceed one sendBatch (256 KB) still lands (outbox-oversized-batch)", async () => {
    // Was: the outbox sent up to 100 rows in one sendBatch; past 256 KB (or one message past
    // 128 KB) it failed on every retry, so the events and the projection never landed.
    const p = await createProject();
    const installation = crypto.randomUUID();
    const ops = Array.from({ length: 100 }, (_, i) => event(`e${i}`, { o: flatOf(10) }));
    const answer = await batch(p, installation, ops);
    expect(answer.accepted).toBe(100);
    await waitForLanding(installation, 100);
  });
});
