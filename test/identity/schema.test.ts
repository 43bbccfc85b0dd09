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
  logout,
  profileBy,
} from "../support/identity";

/*
 * An object makes each table with the first write that needs it, and a woken object whose
 * tables are of this layout runs no DDL (docs/decisions.md, "Durable Object tables").
 */

type Stub = DurableObjectStub<Rpc.DurableObjectBranded | undefined>;

// No `attributes`: a profile's attributes live in its row; that table is made only for one too large for it.
// No `event_batches`: a profile's recent events are in its row; made by a write of events that
// does not fit there. No `history`: made by a profile's second entry (its first, its creation,
// is in its row).
const PROFILE_TABLES = ["commits", "profiles"];

function tablesOf(stub: Stub): Promise<string[]> {
  return runInDurableObject(stub, (_o, state) =>
    state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '_cf%' ORDER BY name",
      )
      .toArray()
      .map((r) => r.name),
  );
}

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

/** The statements every object of this isolate runs while `run` runs, in order. */
async function statementsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const sql = await runInDurableObject(installationStub("any", crypto.randomUUID()), (_o, state) => state.storage.sql);
  const proto = Object.getPrototypeOf(sql) as { exec: SqlStorage["exec"] };
  const original = proto.exec;
  const seen: string[] = [];
  proto.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
    seen.push(query.replace(/\s+/g, " ").trim());
    return original.call(this, query, ...bindings);
  } as SqlStorage["exec"];
  try {
    await run();
  } finally {
    proto.exec = original;
  }
  return seen;
}

const DDL = /^(CREATE|ALTER|DROP|PRAGMA)\b/i;

describe("Durable Object tables", () => {
  it("an anonymous installation makes the profile tables and its own; its first login the intent table", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [attributes({ plan: "pro" }), event("opened")]);
    expect(await tablesOf(installationStub(p.projectId, i))).toEqual([...PROFILE_TABLES, "installation"].sort());

    await batch(p, i, [identify("schema-user")]);
    expect(await tablesOf(installationStub(p.projectId, i))).toContain("intent");
    // The profile it carried there has its history in the table: "created", then "sign_in"; its
    // event in its row.
    expect(await tablesOf(customIdStub(p.projectId, "schema-user"))).toEqual(
      [...PROFILE_TABLES, "history", "members", "transitions"].sort(),
    );
  });

  it("a custom ID written by the Profile API alone makes no members or transitions table, and still reads and logs in and out", async () => {
    const p = await createProject();
    expect((await update(p, [{ identifiers: { custom_id: "api-only" }, attributes: { tier: "gold" } }])).status).toBe(
      202,
    );
    const stub = customIdStub(p.projectId, "api-only");
    // Nor an events table: attributes alone never need one.
    expect(await tablesOf(stub)).toEqual(PROFILE_TABLES);
    const { status, body } = await profileBy(p, { custom_id: "api-only" });
    expect(status).toBe(200);
    expect(body?.installations).toEqual([]);
    expect(body?.attributes.tier?.value).toBe("gold");

    // A logout from a custom ID that has no members yet: the detach finds none, and says so.
    const i = crypto.randomUUID();
    await batch(p, i, [identify("api-only")]);
    await batch(p, i, [logout()]);
    const after = await profileBy(p, { custom_id: "api-only" });
    expect(after.body?.installations).toEqual([]);
    expect(after.body?.attributes.tier?.value).toBe("gold");
  });

  it("keeps a profile's recent events in its row, and makes the events table with a write that does not fit there", async () => {
    const p = await createProject();
    const write = (body: object) => update(p, [{ identifiers: { custom_id: "late-events" }, ...body }]);
    expect((await write({ attributes: { tier: "gold" } })).status).toBe(202);
    const stub = customIdStub(p.projectId, "late-events");
    expect((await profileBy(p, { custom_id: "late-events" })).body?.events).toEqual([]);

    expect((await write({ events: [{ name: "first_purchase" }] })).status).toBe(202);
    expect(await tablesOf(stub)).not.toContain("event_batches");
    expect((await profileBy(p, { custom_id: "late-events" })).body?.events.map((e) => e.name)).toEqual([
      "first_purchase",
    ]);

    // More than the row keeps: the table, in the call's transaction.
    // 20 events (an operation's most) of four 300-character attributes: about 26,000 characters.
    const long = "x".repeat(300);
    const many = Array.from({ length: 20 }, (_, k) => ({
      name: `browse_${k}`,
      attributes: { a: long, b: long, c: long, d: long },
    }));
    const made = await statementsDuring(async () => expect((await write({ events: many })).status).toBe(202));
    expect(made.filter((s) => DDL.test(s))).toEqual([
      expect.stringMatching(/^CREATE TABLE IF NOT EXISTS event_batches/),
    ]);
    expect(await tablesOf(stub)).toContain("event_batches");
    const { body } = await profileBy(p, { custom_id: "late-events" });
    expect(body?.events).toHaveLength(21);
    expect(body?.events.map((e) => e.name)).toContain("first_purchase");
  });

  it("keeps a profile's creation in its row, and makes the history table with its next entry", async () => {
    const p = await createProject();
    expect((await update(p, [{ identifiers: { custom_id: "late-history" }, attributes: { a: 1 } }])).status).toBe(202);
    const stub = customIdStub(p.projectId, "late-history");
    expect(await tablesOf(stub)).not.toContain("history");
    const created = (await profileBy(p, { custom_id: "late-history" })).body?.identity_history;
    expect(created?.map((h) => [h.kind, h.custom_id, h.source])).toEqual([
      ["created_by_custom_id", "late-history", "api"],
    ]);

    const i = crypto.randomUUID();
    await batch(p, i, [identify("late-history")]);
    expect(await tablesOf(stub)).toContain("history");
    const { body } = await profileBy(p, { custom_id: "late-history" });
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created_by_custom_id", "login"]);
    expect(body?.identity_history[1]?.installation_id).toBe(i);
  });

  it("reads the history of a profile made before its creation moved into its row", async () => {
    const p = await createProject();
    expect((await update(p, [{ identifiers: { custom_id: "old-history" }, attributes: { a: 1 } }])).status).toBe(202);
    await batch(p, crypto.randomUUID(), [identify("old-history")]);
    const before = (await profileBy(p, { custom_id: "old-history" })).body?.identity_history;
    expect(before?.map((h) => h.kind)).toEqual(["created_by_custom_id", "login"]);
    // The older layout: no `origin` column, every entry in the table, the first numbered 0.
    await runInDurableObject(customIdStub(p.projectId, "old-history"), (_o, state) => {
      const sql = state.storage.sql;
      sql.exec(`INSERT INTO history (seq, profile_id, time, kind, installation_id, custom_id, source, request_id)
        SELECT 0, profile_id, origin ->> '$.time', origin ->> '$.kind', origin ->> '$.installation_id',
          origin ->> '$.custom_id', origin ->> '$.source', origin ->> '$.request_id'
        FROM profiles WHERE origin IS NOT NULL`);
      sql.exec("ALTER TABLE profiles DROP COLUMN origin");
    });
    await abortAllDurableObjects();
    expect((await profileBy(p, { custom_id: "old-history" })).body?.identity_history).toEqual(before);
    // Brought up to this layout on waking: the column is back, for the profiles made next.
    const columns = await runInDurableObject(customIdStub(p.projectId, "old-history"), (_o, state) =>
      state.storage.sql
        .exec<{ name: string }>("PRAGMA table_info(profiles)")
        .toArray()
        .map((c) => c.name),
    );
    expect(columns).toContain("origin");
  });

  it("a woken object that also holds the local runtime's own table runs no DDL", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [attributes({ plan: "pro" }), event("first")]);
    // `wrangler dev` (Miniflare) keeps an object's name in a table of its own, in the object.
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      state.storage.sql.exec("CREATE TABLE __miniflare_do_name (id INTEGER PRIMARY KEY, name TEXT)");
    });
    const before = await tablesOf(installationStub(p.projectId, i));
    await abortAllDurableObjects();
    const woken = await statementsDuring(() => batch(p, i, [attributes({ plan: "max" }), event("opened")]));
    expect(woken.filter((s) => DDL.test(s))).toEqual([]);
    expect(await tablesOf(installationStub(p.projectId, i))).toEqual(before);
  });

  it("a woken object of this layout runs no DDL; one of an older layout is brought up to date", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [identify("woken"), attributes({ plan: "pro" }), event("first")]);
    await abortAllDurableObjects();
    const woken = await statementsDuring(() => batch(p, i, [attributes({ plan: "max" }), event("opened")]));
    expect(woken.length).toBeGreaterThan(0);
    expect(woken.filter((s) => DDL.test(s))).toEqual([]);

    // An older layout: a table this one no longer has.
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      state.storage.sql.exec("CREATE TABLE processed (op_id TEXT PRIMARY KEY, profile_id TEXT, at INTEGER NOT NULL)");
    });
    await abortAllDurableObjects();
    const upgraded = await statementsDuring(() => batch(p, i, [event("opened")]));
    expect(upgraded).toContain("DROP TABLE processed");
    expect(await tablesOf(installationStub(p.projectId, i))).not.toContain("processed");
    const { body } = await profileBy(p, { custom_id: "woken" });
    expect(body?.attributes.plan?.value).toBe("max");
  });
});
