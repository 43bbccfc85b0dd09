import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { queueProfilesExport, runProfilesExport } from "../../src/exports/profiles-export";
import { createCampaign, hello, type Person, person, pushesOf, untilSent } from "../campaigns/support";
import { days, download, runDaily } from "../exports/helpers";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { waitForProjection } from "../support/projection";
import { placeOn } from "../support/shards";

/*
 * A project split over three shards by fnv1a(profile_id) mod 3 (SPEC §11): rows written through
 * the SDK and the Profile API sit on the shard their hash names, and every reader (segments,
 * both audience APIs, exports, privacy, campaigns) answers for the whole project.
 */

const SHARDS = ["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"];
const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;

/** FNV-1a as the directory defines it, written again here so the test does not trust the code it checks. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
const homeOf = (profileId: string) => SHARDS[fnv1a(profileId) % SHARDS.length];

/** Profile API: 24 people, every other one gold. SDK: 6 devices, gold, reachable by push. */
const API_PEOPLE = Array.from({ length: 24 }, (_, k) => `sp-${String(k).padStart(2, "0")}`);
const apiGold = API_PEOPLE.filter((_, k) => k % 2 === 0);

let p: Project;
let devices: Person[];

/** Every row of a table for the project, on each shard. */
async function rowsByShard(table: string, projectId: string) {
  const out: Record<string, { profile_id: string; custom_id: string | null; state?: string }[]> = {};
  for (const s of SHARDS) {
    const { results } = await d1(s).prepare(`SELECT * FROM ${table} WHERE project_id = ?`).bind(projectId).all();
    out[s] = results as (typeof out)[string];
  }
  return out;
}

async function goldIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const s of SHARDS) {
    const { results } = await d1(s)
      .prepare(
        `SELECT p.profile_id FROM profiles p JOIN profile_attributes a ON a.project_id = p.project_id AND a.profile_id = p.profile_id
          WHERE p.project_id = ? AND p.state = 'active' AND a.name = 'tier' AND a.value_text = 'gold'`,
      )
      .bind(p.projectId)
      .all<{ profile_id: string }>();
    ids.push(...results.map((r) => r.profile_id));
  }
  return ids.sort();
}

const query = (body: unknown) => call("POST", "/v1/segments/query", { headers: restHeaders(p), body });
const gold = { attribute: "tier", op: "eq", value: "gold" };

beforeAll(async () => {
  p = await createProject("web");
  await placeOn(p.projectId, SHARDS);
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: API_PEOPLE.map((custom_id, k) => ({
      identifiers: { custom_id },
      attributes: { tier: k % 2 === 0 ? "gold" : "silver" },
    })),
  });
  expect(res.status).toBe(202);
  devices = [];
  for (let k = 0; k < 6; k++) devices.push(await person(p, { attrs: { tier: "gold", wave: "split" } }));
  await waitForProjection(
    p.projectId,
    devices.map((d) => d.installationId),
    API_PEOPLE,
  );
}, 90_000);

describe("a project split over three shards", () => {
  it("keeps each profile's rows on the shard its hash names, and uses every shard", async () => {
    const profiles = await rowsByShard("profiles", p.projectId);
    const attributes = await rowsByShard("profile_attributes", p.projectId);
    const installations = await rowsByShard("installations", p.projectId);
    for (const s of SHARDS) {
      for (const r of [...(profiles[s] ?? []), ...(attributes[s] ?? []), ...(installations[s] ?? [])]) {
        expect(homeOf(r.profile_id), `${r.profile_id} on ${s}`).toBe(s);
      }
      expect(profiles[s]?.length, s).toBeGreaterThan(0);
    }
    const all = SHARDS.flatMap((s) => profiles[s] ?? []);
    expect(all).toHaveLength(API_PEOPLE.length + devices.length);
    expect(devices.every((d) => all.some((r) => r.profile_id === d.profileId))).toBe(true);
  });

  it("counts a segment as the sum of its shards' counts", async () => {
    const perShard = await Promise.all(
      SHARDS.map(async (s) => {
        const row = await d1(s)
          .prepare(
            `SELECT count(*) AS n FROM profiles p JOIN profile_attributes a ON a.project_id = p.project_id AND a.profile_id = p.profile_id
              WHERE p.project_id = ? AND p.state = 'active' AND a.name = 'tier' AND a.value_text = 'gold'`,
          )
          .bind(p.projectId)
          .first<{ n: number }>();
        return row?.n ?? 0;
      }),
    );
    const res = await query({ where: gold, count_only: true });
    expect(res.status).toBe(200);
    const { count } = await res.json<{ count: number }>();
    expect(count).toBe(perShard.reduce((a, b) => a + b, 0));
    expect(count).toBe(apiGold.length + devices.length);
  });

  it("walks a segment in small pages: every match once, in profile_id order, the first page's count carried", async () => {
    const seen: string[] = [];
    const counts: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await query({ where: gold, limit: 4, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      const body = await res.json<{ count: number; profiles: { profile_id: string }[]; next_cursor: string | null }>();
      expect(body.profiles.length).toBeLessThanOrEqual(4);
      seen.push(...body.profiles.map((r) => r.profile_id));
      counts.push(body.count);
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    const expected = await goldIds();
    expect(expected).toHaveLength(apiGold.length + devices.length);
    expect(seen).toEqual(expected);
    expect(new Set(counts)).toEqual(new Set([expected.length]));
  });
});

describe("audiences on a split project", () => {
  it("/v1/audiences: create, replace, patch, read, and in_audience segments across shards", async () => {
    const h = restHeaders(p);
    expect(
      (await call("POST", "/v1/audiences", { headers: h, body: { name: "club", type: "custom_ids" } })).status,
    ).toBe(201);
    const members = API_PEOPLE.slice(0, 10);
    expect((await call("PUT", "/v1/audiences/club", { headers: h, body: { ids: members } })).status).toBe(200);
    const patched = await call("PATCH", "/v1/audiences/club", {
      headers: h,
      body: { add: [API_PEOPLE[10]], remove: [API_PEOPLE[0]] },
    });
    expect(patched.status).toBe(200);
    const read = await call("GET", "/v1/audiences/club", { headers: h });
    expect(await read.json()).toMatchObject({ name: "club", size: 10 });
    // A whole copy on every shard, so each joins its own profiles with it.
    const expected = [...API_PEOPLE.slice(1, 11)].sort();
    for (const s of SHARDS) {
      const { results } = await d1(s)
        .prepare(
          `SELECT m.member FROM audience_members m JOIN audiences a ON a.project_id = m.project_id AND a.name = m.audience
            AND a.generation = m.generation WHERE m.project_id = ? AND m.audience = 'club' ORDER BY m.member`,
        )
        .bind(p.projectId)
        .all<{ member: string }>();
      expect(
        results.map((r) => r.member),
        s,
      ).toEqual(expected);
    }
    const list = await call("GET", "/v1/audiences", { headers: h });
    expect(list.status).toBe(200);

    const res = await query({ where: { in_audience: "club" }, limit: 3 });
    expect(res.status).toBe(200);
    const first = await res.json<{ count: number }>();
    expect(first.count).toBe(10);
    const both = await query({ where: { and: [{ in_audience: "club" }, gold] }, count_only: true });
    // sp-02 … sp-10, gold every other one.
    expect((await both.json<{ count: number }>()).count).toBe(5);
    const devicesAudience = await call("POST", "/v1/audiences", {
      headers: h,
      body: { name: "phones", type: "installation_ids" },
    });
    expect(devicesAudience.status).toBe(201);
    const ids = devices.slice(0, 4).map((d) => d.installationId);
    expect((await call("PUT", "/v1/audiences/phones", { headers: h, body: { ids } })).status).toBe(200);
    const phones = await query({ where: { in_audience: "phones" }, limit: 100 });
    const body = await phones.json<{ count: number; profiles: { profile_id: string }[] }>();
    expect(body.count).toBe(4);
    expect(body.profiles.map((r) => r.profile_id).sort()).toEqual(
      devices
        .slice(0, 4)
        .map((d) => d.profileId)
        .sort(),
    );
    expect((await call("DELETE", "/v1/audiences/phones", { headers: h })).status).toBe(204);
    expect((await query({ where: { in_audience: "phones" }, count_only: true })).status).toBe(400);
  });

  it("Batch's Audience API 2.x on a split project, read through /v1 and segments", async () => {
    const headers = { Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId };
    const post = (op: string, body: unknown) => call("POST", `/2.1/audiences/${op}`, { headers, body });
    expect((await post("create", { name: "bvip", type: "custom_ids" })).status).toBe(202);
    expect((await post("replace/", { name: "bvip", ids: API_PEOPLE.slice(12, 20) })).status).toBe(202);
    expect((await post("update", { name: "bvip", ids: [{ action: "remove", id: API_PEOPLE[12] }] })).status).toBe(202);
    const view = await call("GET", `/2.1/audiences/view?${new URLSearchParams({ name: "bvip" })}`, { headers });
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ nb_ids: 7 });
    const res = await query({ where: { in_audience: "bvip" }, count_only: true });
    expect((await res.json<{ count: number }>()).count).toBe(7);
  });
});

describe("exports, privacy and campaigns on a split project", () => {
  it("an on-demand export writes every matching profile once", async () => {
    type ProfilesExport = Extract<ExportMessage, { type: "profiles_export" }>;
    const queued: ProfilesExport[] = [];
    const capture = {
      ...env,
      EXPORT_TASKS: { send: async (body: ProfilesExport) => void queued.push(body) } as unknown as Queue,
    } as Env;
    const requestId = crypto.randomUUID();
    await queueProfilesExport(
      capture,
      p.projectId,
      gold as never,
      ["custom_id", "installation_ids", "tier"],
      requestId,
    );
    for (let next = queued.shift(); next; next = queued.shift()) await runProfilesExport(capture, next);
    const status = await (await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(p) })).json<{
      status: string;
      file?: { key: string; rows: number };
    }>();
    expect(status).toMatchObject({ status: "done", file: { rows: apiGold.length + devices.length } });
    const text = await (await call("GET", `/v1/exports/${status.file?.key}`, { headers: restHeaders(p) })).text();
    for (const id of apiGold) expect(text.split(id).length - 1, id).toBe(1);
    for (const d of devices) expect(text).toContain(d.installationId);
  });

  it("the daily optin_users file lists every reachable installation once, in its order across shards", async () => {
    const { day } = days();
    await runDaily(p, day);
    const rows: { installation_id: string; last_seen_at: string }[] = [];
    for (const s of SHARDS) {
      const { results } = await d1(s)
        .prepare("SELECT installation_id, last_seen_at FROM installations WHERE project_id = ?")
        .bind(p.projectId)
        .all<{ installation_id: string; last_seen_at: string }>();
      rows.push(...results);
    }
    // Byte order, as SQLite's BINARY collation orders text.
    const key = (r: { installation_id: string; last_seen_at: string }) => `${r.last_seen_at}\u0000${r.installation_id}`;
    rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    expect(rows.map((r) => r.installation_id).sort()).toEqual(devices.map((d) => d.installationId).sort());
    const res = await download(p, p.appId, "optin_users", `${day}.csv`);
    expect(res.status).toBe(200);
    const lines = (await res.text()).split("\r\n").slice(1, -1);
    expect(lines.map((l) => l.split(",")[1])).toEqual(rows.map((r) => r.installation_id));
  });

  it("a campaign reaches every matching profile once", async () => {
    const token = await createCampaign(p, {
      name: "Split",
      live: true,
      push_time: "now",
      targeting: { where: { attribute: "wave", op: "eq", value: "split" } },
      messages: hello,
    });
    const done = await untilSent(p, token);
    expect(done.stats.targeted).toBe(devices.length);
    const pushes = await pushesOf(devices);
    expect(pushes.map((x) => x.length)).toEqual(devices.map(() => 1));
  });

  it("a privacy remove erases the profile from its shard and from every shard's audiences", async () => {
    const target = API_PEOPLE[13] as string;
    const removed = await call("POST", "/v1/privacy/requests", {
      headers: restHeaders(p),
      body: { type: "remove", identifier: { type: "custom_id", value: target } },
    });
    expect(removed.status).toBe(202);
    const { request_id } = await removed.json<{ request_id: string }>();
    let body: { status: string; receipt?: { profile_id: string } } = { status: "pending" };
    for (let k = 0; k < 200 && body.status === "pending"; k++) {
      await new Promise((r) => setTimeout(r, 100));
      body = await (await call("GET", `/v1/privacy/requests/${request_id}`, { headers: restHeaders(p) })).json();
    }
    expect(body.status).toBe("done");
    const profileId = body.receipt?.profile_id as string;
    const profiles = await rowsByShard("profiles", p.projectId);
    for (const s of SHARDS) {
      const mine = (profiles[s] ?? []).filter((r) => r.profile_id === profileId);
      // The tombstone sits on the profile's own shard, and nowhere else.
      expect(mine.map((r) => r.state)).toEqual(s === homeOf(profileId) ? ["removed"] : []);
      const member = await d1(s)
        .prepare("SELECT count(*) AS n FROM audience_members WHERE project_id = ? AND member = ?")
        .bind(p.projectId, target)
        .first<{ n: number }>();
      expect(member?.n, s).toBe(0);
    }
    const res = await query({ where: { in_audience: "bvip" }, count_only: true });
    expect((await res.json<{ count: number }>()).count).toBe(6);
  });
});
