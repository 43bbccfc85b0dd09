import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { shard } from "../../src/db/shards";
import { type ReplayCursor, replayPage, replayPaging } from "../../src/projection/replay";
import { run } from "../privacy/support";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, event, identify } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { placeOn } from "../support/shards";

/*
 * A move's first step: the project's projection rebuilt on another shard from the Durable
 * Objects (and, for what they no longer hold, the old rows), page by page, resumable.
 */

const TABLES = [
  "profiles",
  "profile_attributes",
  "profile_attribute_items",
  "installations",
  "audiences",
  "audience_members",
] as const;
const ORDER: Record<string, string> = {
  profiles: "profile_id",
  profile_attributes: "profile_id, name",
  profile_attribute_items: "profile_id, name, item",
  installations: "installation_id",
  audiences: "name",
  audience_members: "audience, generation, member",
};
const DEVICES = Array.from({ length: 5 }, (_, k) => `00000000-0000-4000-8000-00000000f00${k}`);
const USERS = ["u-a", "u-b", "u-c", "u-d", "gone"];

let p: Project;

/**
 * An attribute row's `version` is the profile version it last changed at: written as it changes,
 * it can be older than its profile's, where a replay, which reads the profile whole, writes the
 * profile's own. The rows are compared without it; the profiles' versions are compared.
 */
const CHANGED_AT = new Set(["profile_attributes", "profile_attribute_items"]);

/** Every projection row of the project on a shard, table by table. */
async function rowsOf(name: string) {
  const s = shard(env, name);
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) {
    const { results } = await s.d1
      .prepare(`SELECT * FROM ${t} WHERE project_id = ? ORDER BY ${ORDER[t]}`)
      .bind(p.projectId)
      .all<Record<string, unknown>>();
    out[t] = CHANGED_AT.has(t) ? results.map(({ version: _, ...row }) => row) : results;
  }
  return out;
}

async function replayAll(from: string, to: string, stopAfter = Number.POSITIVE_INFINITY) {
  let cursor: ReplayCursor | null = { step: "profiles", after: null };
  let pages = 0;
  while (cursor && pages < stopAfter) {
    cursor = await replayPage(env, p.projectId, shard(env, from), shard(env, to), cursor);
    pages++;
  }
  return { cursor, pages };
}

beforeAll(async () => {
  p = await createProject();
  await placeOn(p.projectId, "PROJECTION_1");
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: USERS.map((u, k) => ({ identifiers: { custom_id: u }, attributes: { tier: `t${k}`, tags: ["x", `y${k}`] } })),
  });
  expect(res.status).toBe(202);
  for (const [k, device] of DEVICES.entries()) {
    // Two devices sign in (their anonymous profiles are orphaned), the others stay anonymous.
    await batch(p, device, [attributes({ seen: k }), event("open"), ...(k < 2 ? [identify(USERS[k] as string)] : [])]);
  }
  for (const [name, type, ids] of [
    ["club", "custom_ids", ["u-a", "u-c", "gone"]],
    ["phones", "installation_ids", [DEVICES[3]]],
    ["empty", "custom_ids", []],
  ] as const) {
    expect((await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type } })).status).toBe(201);
    if (ids.length) {
      const put = await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } });
      expect(put.status).toBe(200);
    }
  }
  await waitForProjection(p.projectId, DEVICES, USERS);
  expect((await run(p, { type: "remove", identifier: { type: "custom_id", value: "gone" } })).status).toBe("done");
}, 90_000);

describe("replaying a project into another shard", () => {
  it("writes every row the old shard holds, tombstones and audiences included", async () => {
    const before = await rowsOf("PROJECTION_1");
    expect(before.profiles?.some((r) => (r as { state: string }).state === "removed")).toBe(true);
    expect(before.profiles?.some((r) => (r as { state: string }).state === "orphaned")).toBe(true);
    expect(before.audience_members).toHaveLength(3);
    expect(Object.values(await rowsOf("PROJECTION_2")).flat()).toEqual([]);

    await replayAll("PROJECTION_1", "PROJECTION_2");
    expect(await rowsOf("PROJECTION_2")).toEqual(before);
    // Replaying again changes nothing.
    await replayAll("PROJECTION_1", "PROJECTION_2");
    expect(await rowsOf("PROJECTION_2")).toEqual(before);
  });

  it("resumes from its cursor after a stop, in small pages, to the same rows", async () => {
    const before = await rowsOf("PROJECTION_1");
    const saved = { ...replayPaging };
    Object.assign(replayPaging, { profiles: 2, installations: 2, members: 1 });
    try {
      let state: { cursor: ReplayCursor | null; pages: number } = {
        cursor: { step: "profiles", after: null },
        pages: 0,
      };
      let total = 0;
      // As if the job stopped after every three pages and ran again from what it recorded.
      while (state.cursor) {
        let cursor: ReplayCursor | null = state.cursor;
        let pages = 0;
        while (cursor && pages < 3) {
          cursor = await replayPage(env, p.projectId, shard(env, "PROJECTION_1"), shard(env, "PROJECTION_0"), cursor);
          pages++;
        }
        state = { cursor, pages };
        total += pages;
      }
      expect(total).toBeGreaterThan(6);
    } finally {
      Object.assign(replayPaging, saved);
    }
    expect(await rowsOf("PROJECTION_0")).toEqual(before);
  });
});
