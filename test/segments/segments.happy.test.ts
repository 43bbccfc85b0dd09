import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, identify, opId } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { shardDb } from "../support/shards";

interface Answer {
  count: number;
  profiles: { profile_id: string; custom_id: string | null }[];
  next_cursor: string | null;
}

let p: Project;
const devices = {
  alice: crypto.randomUUID(),
  bob: crypto.randomUUID(),
  anon: crypto.randomUUID(),
  orphan: crypto.randomUUID(),
};
const ids: Record<string, string> = {};

async function query(body: Record<string, unknown>, project = p): Promise<Answer> {
  const res = await call("POST", "/v1/segments/query", { headers: restHeaders(project), body });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  return res.json<Answer>();
}

/** Adds an app of `platform` to the project; returns its SDK key. */
async function addApp(project: Project, platform: string): Promise<string> {
  const res = await call("POST", `/v1/admin/projects/${project.projectId}/apps`, {
    headers: adminHeaders,
    body: { name: platform, platform },
  });
  return (await res.json<{ sdk_api_key: string }>()).sdk_api_key;
}

/** The names of the profiles a where tree matches (custom ID, or "anon"). */
async function names(where: unknown): Promise<string[]> {
  const answer = await query({ where, limit: 1000 });
  expect(answer.count).toBe(answer.profiles.length);
  return answer.profiles.map((x) => x.custom_id ?? (x.profile_id === ids.anon ? "anon" : `? ${x.profile_id}`)).sort();
}

/**
 * A known population: alice (ios, opted in), bob (android, opted out), carol (API only),
 * an anonymous web visitor, and an orphan left behind by a login as alice.
 */
beforeAll(async () => {
  p = await createProject("ios");
  await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: [
      {
        identifiers: { custom_id: "alice" },
        attributes: {
          tier: "gold",
          age: 30,
          tags: ["a", "b"],
          vip: true,
          $email_marketing: "subscribed",
          "date(signup)": "2026-01-01T00:00:00Z",
        },
      },
      {
        identifiers: { custom_id: "bob" },
        attributes: { tier: "silver", age: 45, tags: ["b"], $email_marketing: "unsubscribed" },
      },
      { identifiers: { custom_id: "carol" }, attributes: { tier: "gold", age: 25, vip: false } },
    ],
  });
  const android = { ...p, sdkKey: await addApp(p, "android") };
  const web = { ...p, sdkKey: await addApp(p, "web") };
  await batch(p, devices.alice, [identify("alice"), { id: opId(), type: "push_optin", opted_in: true }]);
  await batch(android, devices.bob, [identify("bob"), { id: opId(), type: "push_optin", opted_in: false }]);
  ids.anon = (await batch(web, devices.anon, [attributes({ tier: "bronze", age: 19 })])).profile_id;
  await batch(p, devices.orphan, [attributes({ tier: "gold", age: 99 })]);
  await batch(p, devices.orphan, [identify("alice")]);
  await waitForProjection(p.projectId, Object.values(devices), ["alice", "bob", "carol"]);
}, 60_000);

describe("POST /v1/segments/query: every operator against a known population", () => {
  it("eq, neq (profiles without the attribute match neq), and never an orphan", async () => {
    expect(await names({ attribute: "tier", op: "eq", value: "gold" })).toEqual(["alice", "carol"]);
    expect(await names({ attribute: "tier", op: "neq", value: "gold" })).toEqual(["anon", "bob"]);
    expect(await names({ attribute: "age", op: "eq", value: 99 })).toEqual([]);
  });

  it("gt, gte, lt, lte on numbers and on dates", async () => {
    expect(await names({ attribute: "age", op: "gt", value: 30 })).toEqual(["bob"]);
    expect(await names({ attribute: "age", op: "gte", value: 30 })).toEqual(["alice", "bob"]);
    expect(await names({ attribute: "age", op: "lt", value: 25 })).toEqual(["anon"]);
    expect(await names({ attribute: "age", op: "lte", value: 25 })).toEqual(["anon", "carol"]);
    expect(await names({ attribute: "signup", op: "gt", value: "2025-12-31T00:00:00Z" })).toEqual(["alice"]);
    expect(await names({ attribute: "signup", op: "eq", value: "2026-01-01T00:00:00Z" })).toEqual(["alice"]);
  });

  it("exists, contains, in, and booleans", async () => {
    expect(await names({ attribute: "tags", op: "exists" })).toEqual(["alice", "bob"]);
    expect(await names({ attribute: "tags", op: "contains", value: "a" })).toEqual(["alice"]);
    expect(await names({ attribute: "tags", op: "contains", value: "b" })).toEqual(["alice", "bob"]);
    expect(await names({ attribute: "tier", op: "in", value: ["silver", "bronze"] })).toEqual(["anon", "bob"]);
    expect(await names({ attribute: "age", op: "in", value: [25, 45] })).toEqual(["bob", "carol"]);
    expect(await names({ attribute: "vip", op: "eq", value: true })).toEqual(["alice"]);
    expect(await names({ attribute: "vip", op: "eq", value: false })).toEqual(["carol"]);
  });

  it("has_custom_id, platform, push_optin, email_marketing, last_activity", async () => {
    expect(await names({ has_custom_id: true })).toEqual(["alice", "bob", "carol"]);
    expect(await names({ has_custom_id: false })).toEqual(["anon"]);
    expect(await names({ platform: "ios" })).toEqual(["alice"]);
    expect(await names({ platform: "android" })).toEqual(["bob"]);
    expect(await names({ platform: "web" })).toEqual(["anon"]);
    expect(await names({ push_optin: true })).toEqual(["alice"]);
    expect(await names({ push_optin: false })).toEqual(["anon", "bob", "carol"]);
    expect(await names({ email_marketing: "subscribed" })).toEqual(["alice"]);
    expect(await names({ email_marketing: "unsubscribed" })).toEqual(["bob"]);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    expect(await names({ last_activity: { after: hourAgo } })).toEqual(["alice", "anon", "bob", "carol"]);
    expect(await names({ last_activity: { before: hourAgo } })).toEqual([]);
  });

  it("and, or, not, nested", async () => {
    expect(
      await names({ and: [{ attribute: "tier", op: "eq", value: "gold" }, { not: { platform: "ios" } }] }),
    ).toEqual(["carol"]);
    expect(await names({ or: [{ push_optin: true }, { attribute: "age", op: "lt", value: 20 }] })).toEqual([
      "alice",
      "anon",
    ]);
    expect(
      await names({
        not: {
          or: [
            { has_custom_id: false },
            {
              and: [
                { attribute: "tags", op: "exists" },
                { attribute: "age", op: "gt", value: 40 },
              ],
            },
          ],
        },
      }),
    ).toEqual(["alice", "carol"]);
  });

  it("in_audience, for custom IDs and installation IDs, including members that appear later", async () => {
    const now = new Date().toISOString();
    const db = await shardDb(p.projectId);
    await db.batch([
      db
        .prepare(
          "INSERT INTO audiences (project_id, name, type, size, generation, created_at, updated_at) VALUES (?, 'vip_list', 'custom_ids', 2, 1, ?, ?)",
        )
        .bind(p.projectId, now, now),
      db
        .prepare("INSERT INTO audience_members VALUES (?, 'vip_list', 1, 'alice'), (?, 'vip_list', 1, 'dave')")
        .bind(p.projectId, p.projectId),
      // A stale generation is not the audience any more.
      db.prepare("INSERT INTO audience_members VALUES (?, 'vip_list', 0, 'bob')").bind(p.projectId),
      db
        .prepare(
          "INSERT INTO audiences (project_id, name, type, size, generation, created_at, updated_at) VALUES (?, 'devices', 'installation_ids', 1, 0, ?, ?)",
        )
        .bind(p.projectId, now, now),
      db.prepare("INSERT INTO audience_members VALUES (?, 'devices', 0, ?)").bind(p.projectId, devices.bob),
    ]);
    expect(await names({ in_audience: "vip_list" })).toEqual(["alice"]);
    expect(await names({ in_audience: "devices" })).toEqual(["bob"]);

    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "dave" }, attributes: { tier: "new" } }],
    });
    await expect.poll(() => names({ in_audience: "vip_list" }), { timeout: 10_000 }).toEqual(["alice", "dave"]);
  });

  it("count_only, limit and a stable cursor", async () => {
    const where = { last_activity: { after: "2020-01-01T00:00:00Z" } };
    const all = await query({ where, limit: 1000 });
    const countOnly = await query({ where, count_only: true });
    expect(countOnly).toEqual({ count: all.count, profiles: [], next_cursor: null });

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page: Answer = await query({ where, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.profiles.length).toBeLessThanOrEqual(2);
      expect(page.count).toBe(all.count);
      seen.push(...page.profiles.map((x) => x.profile_id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.profiles.map((x) => x.profile_id));
    expect(seen).toEqual([...seen].sort());
  });

  it("never returns another project's profiles", async () => {
    const other = await createProject();
    const answer = await query({ where: { has_custom_id: true } }, other);
    expect(answer).toEqual({ count: 0, profiles: [], next_cursor: null });
  });
});
