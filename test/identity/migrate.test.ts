import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import {
  attributes,
  batch,
  customIdStub,
  event,
  identify,
  installationStub,
  profileBy,
  querySql,
} from "../support/identity";

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

describe("objects written with a row per attribute, before array items had times and members a last-seen time", () => {
  it("gain the columns when they wake, keep working, and move each attribute into the profile row when written", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    await batch(p, device, [identify("old")]);
    await update(p, [
      { identifiers: { custom_id: "old" }, time: ago(10), attributes: { tags: ["a", "b"], city: "Lyon", gone: null } },
    ]);
    const stub = customIdStub(p.projectId, "old");
    // Put the object back to the layout it had before: a row per attribute (tombstones too), no item times.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP INDEX members_by_seen");
      sql.exec("ALTER TABLE members DROP COLUMN seen_at");
      sql.exec(
        `CREATE TABLE attributes (profile_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT, value TEXT,
           updated_at TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (profile_id, name)) WITHOUT ROWID`,
      );
      sql.exec(
        `INSERT INTO attributes SELECT profile_id, a.key, a.value->>'$[0]',
           CASE WHEN json_type(a.value, '$[1]') = 'null' THEN NULL ELSE a.value->'$[1]' END,
           a.value->>'$[2]', a.value->>'$[3]'
         FROM profiles, json_each(profiles.attributes) AS a`,
      );
      sql.exec("ALTER TABLE profiles DROP COLUMN attributes");
    });
    await abortAllDurableObjects();
    // An old delete still wins over an older write of the same attribute: its tombstone was read.
    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(20), attributes: { gone: "back" } }]);

    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(2), attributes: { tags: { $remove: ["a"] } } }]);
    await update(p, [{ identifiers: { custom_id: "old" }, time: ago(5), attributes: { tags: { $add: ["a", "c"] } } }]);
    const { body } = await profileBy(p, { custom_id: "old" });
    expect(body?.attributes.tags?.value).toEqual(["b", "c"]);
    expect(body?.attributes.city?.value).toBe("Lyon");
    expect(body?.attributes.gone).toBeUndefined();
    expect(body?.installations.map((x) => x.installation_id)).toEqual([device]);
    const [member] = await querySql(customIdStub(p.projectId, "old"), "SELECT seen_at, attached_at FROM members");
    expect(member?.seen_at).toBe(member?.attached_at);
    // Written since: in the profile row, its own row deleted; the others stay where they were.
    const rows = await querySql(customIdStub(p.projectId, "old"), "SELECT name FROM attributes ORDER BY name");
    expect(rows.map((r) => r.name)).toEqual(["city", "gone"]);
    const [doc] = await querySql(
      customIdStub(p.projectId, "old"),
      "SELECT attributes FROM profiles WHERE state = 'active'",
    );
    expect(Object.keys(JSON.parse(String(doc?.attributes)))).toContain("tags");
  });
});

describe("objects written when every applied op ID had a row of its own", () => {
  it("move those IDs to one row per write when they wake, and still refuse them as duplicates", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const stub = installationStub(p.projectId, device);
    const first = attributes({ tier: "gold" });
    await batch(p, device, [first]);
    // Put the object back to the layout it had before: one row per op ID, indexed by time.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("CREATE TABLE processed (op_id TEXT PRIMARY KEY, profile_id TEXT, at INTEGER NOT NULL)");
      sql.exec("CREATE INDEX processed_by_time ON processed (at)");
      sql.exec("INSERT INTO processed SELECT op.value, profile_id, at FROM commits, json_each(commits.ops) AS op");
      sql.exec("INSERT INTO processed VALUES ('old-op', NULL, ?)", Date.now());
      sql.exec("DELETE FROM commits");
    });
    await abortAllDurableObjects();

    const again = await batch(p, device, [first, { ...attributes({ tier: "silver" }), id: "old-op" }]);
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
    const woken = installationStub(p.projectId, device);
    expect(await querySql(woken, "SELECT name FROM sqlite_master WHERE name = 'processed'")).toEqual([]);
    const { body } = await profileBy(p, { installation_id: device });
    expect(body?.attributes.tier?.value).toBe("gold");
  });
});

describe("objects written when every event had a row of its own", () => {
  it("move their events to one row per profile when they wake, and show and trim them as before", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const stub = installationStub(p.projectId, device);
    const early = event("early");
    await batch(p, device, [early, event("late")]);
    // Put the object back to the layout it had before: one row per event, indexed by time.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec(`CREATE TABLE events (
        profile_id TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL, time TEXT NOT NULL,
        attributes TEXT NOT NULL, label TEXT, tags TEXT NOT NULL, source TEXT NOT NULL,
        installation_id TEXT, received_at TEXT NOT NULL, PRIMARY KEY (profile_id, event_id))`);
      sql.exec("CREATE INDEX events_by_time ON events (profile_id, time)");
      sql.exec(`INSERT INTO events SELECT profile_id, e.value->>'id', e.value->>'name', e.value->>'time',
        e.value->'attributes', e.value->>'label', e.value->'tags', e.value->>'source', e.value->>'installation_id',
        e.value->>'received_at' FROM profiles, json_each(profiles.events) AS e`);
      sql.exec("UPDATE profiles SET events = NULL");
    });
    await abortAllDurableObjects();

    const again = await batch(p, device, [early, event("later")]);
    expect(again).toMatchObject({ accepted: 1, duplicates: 1 });
    const { body } = await profileBy(p, { installation_id: device });
    expect(body?.events.map((e) => e.name).sort()).toEqual(["early", "late", "later"]);
    const woken = installationStub(p.projectId, device);
    expect(await querySql(woken, "SELECT name FROM sqlite_master WHERE name LIKE 'events%'")).toEqual([]);
    expect(await querySql(woken, "SELECT events_held FROM profiles")).toEqual([{ events_held: 3 }]);
  });
});

describe("objects whose identity history has the older layout (AUTOINCREMENT, an index)", () => {
  it("append to it and list it in order as before", async () => {
    const p = await createProject();
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    await batch(p, first, [identify("historic")]);
    await runInDurableObject(customIdStub(p.projectId, "historic"), (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("ALTER TABLE history RENAME TO history_new");
      sql.exec(`CREATE TABLE history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, profile_id TEXT NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
        installation_id TEXT, custom_id TEXT, source TEXT NOT NULL, request_id TEXT)`);
      sql.exec("CREATE INDEX history_by_profile ON history (profile_id, seq)");
      sql.exec(`INSERT INTO history (profile_id, time, kind, installation_id, custom_id, source, request_id)
        SELECT profile_id, time, kind, installation_id, custom_id, source, request_id FROM history_new ORDER BY seq`);
      sql.exec("DROP TABLE history_new");
    });
    await abortAllDurableObjects();
    await batch(p, second, [identify("historic")]);
    const { body } = await profileBy(p, { custom_id: "historic" });
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in", "login"]);
  });
});
