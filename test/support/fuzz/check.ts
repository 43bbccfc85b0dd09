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
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { allShards } from "../../../src/db/shards";
import { listKeys } from "../../../src/exports/staging";
import { errorOf } from "../harness";
import { customIdStub, installationStub } from "../identity";
import { type Body, clip, decoder, NUM_RUNS, type Req, send, show } from "./requests";
import { isObject } from "./values";

// ---------------------------------------------------------------------------------------------
// What a request could have written
// ---------------------------------------------------------------------------------------------

export const TABLES = [
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

/** Projection tables: on every shard (PROJECTION_0 is DB itself), counted over all of them. */
const PROJECTION_TABLES = new Set<string>([
  "audiences",
  "audience_members",
  "profiles",
  "profile_attributes",
  "installations",
]);

/** Row counts of every table, and the audiences rows whole (a refused replace must not touch them). */
export async function d1State() {
  const shards = allShards(env).filter((s) => s.name !== "PROJECTION_0");
  const [results, ...others] = await Promise.all([
    env.DB.batch([
      ...TABLES.map((t) => env.DB.prepare(`SELECT count(*) AS n FROM ${t}`)),
      env.DB.prepare("SELECT * FROM audiences ORDER BY project_id, name"),
    ]),
    ...shards.map((s) =>
      s.d1.batch([
        ...TABLES.map((t) => s.d1.prepare(`SELECT count(*) AS n FROM ${t}`)),
        s.d1.prepare("SELECT * FROM audiences ORDER BY project_id, name"),
      ]),
    ),
  ]);
  const n = (r: D1Result[], i: number) => (r[i]?.results[0] as { n: number } | undefined)?.n ?? 0;
  const counts = Object.fromEntries(
    TABLES.map((t, i) => [
      t,
      n(results, i) + (PROJECTION_TABLES.has(t) ? others.reduce((sum, r) => sum + n(r, i), 0) : 0),
    ]),
  );
  // Event history is staged in R2: a refused request stages nothing (keys only, to stay cheap).
  let staged = 0;
  for await (const _ of listKeys(env.EXPORTS, "events/")) staged++;
  const audiences = [results, ...others].flatMap((r) => r[TABLES.length]?.results ?? []);
  return { counts, staged, audiences };
}

export interface Ids {
  installations: string[];
  customIds: string[];
}

export const MAX_OBJECTS = 12;

export function addId(list: string[], value: unknown) {
  if (typeof value !== "string" || value.length > 1024 || list.length >= MAX_OBJECTS) return;
  for (const v of [value, value.toLowerCase()]) if (!list.includes(v)) list.push(v);
}

/** The installation and custom IDs an SDK batch names. */
export function sdkIds(body: unknown): Ids {
  const ids: Ids = { installations: [], customIds: [] };
  if (!isObject(body)) return ids;
  addId(ids.installations, body.installation_id);
  if (Array.isArray(body.ops))
    for (const op of body.ops.slice(0, 50)) if (isObject(op)) addId(ids.customIds, op.custom_id);
  return ids;
}

/** The installation and custom IDs a Profile API body names. */
export function profileApiIds(body: unknown): Ids {
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
export async function objectState(projectId: string, ids: Ids) {
  const state: Record<string, unknown> = {};
  for (const i of ids.installations) state[`installation ${i}`] = await installationStub(projectId, i).describe();
  for (const c of ids.customIds) state[`custom ID ${c}`] = await customIdStub(projectId, c).view();
  return state;
}

export function parsedBody(body: Body | undefined): unknown {
  if (!body) return undefined;
  try {
    return JSON.parse(decoder.decode(body.bytes));
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until queued work (mass updates, events, the projection) has landed and D1 stands still. */
export async function settle() {
  const deadline = Date.now() + 15_000;
  let last = "";
  let stable = 0;
  while (Date.now() < deadline) {
    const [pending] = await env.DB.batch([
      env.DB.prepare(
        "SELECT count(*) AS n FROM requests r WHERE r.failure IS NULL AND r.chunks > (SELECT count(*) FROM request_chunks c WHERE c.request_id = r.id)",
      ),
    ]);
    const versions = await Promise.all(
      allShards(env).map((s) =>
        s.d1
          .prepare(
            "SELECT (SELECT coalesce(sum(version), 0) FROM profiles) + (SELECT coalesce(sum(version), 0) FROM installations) AS v",
          )
          .first(),
      ),
    );
    const now = JSON.stringify([await d1State(), versions]);
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
export function changes(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const json = (v: unknown) => clip(JSON.stringify(v) ?? "undefined", 300);
  return [...keys]
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${k}: ${json(before[k])} → ${json(after[k])}`);
}

export interface Target {
  projectId: string;
  /** The Durable Objects a body names, checked on a refusal. */
  ids?: (body: unknown) => Ids;
  /** A 2xx queues work that writes D1 later. */
  async?: boolean;
}

/** Sends one request and checks the three properties. */
export async function check(r: Req, target: Target): Promise<void> {
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

export async function fuzz(requests: fc.Arbitrary<Req>, target: Target, numRuns = NUM_RUNS) {
  await fc.assert(
    fc.asyncProperty(requests, (r) => check(r, target)),
    { numRuns },
  );
}
