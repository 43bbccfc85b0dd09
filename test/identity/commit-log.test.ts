import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { LIMITS } from "../../src/identity/attributes";
import type { ProfileStore } from "../../src/identity/profile-store";
import { createProject } from "../support/harness";
import { attributes, batch, installationStub, querySql } from "../support/identity";
import { rowsWritten } from "../support/rows-written";

/*
 * The commit log (src/identity/commit-log.ts): a row per commit holds the op IDs it applied and
 * the messages it owes the queues. What one of them is done with must not take the other.
 */

type Row = { seq: number; profile_id: string | null; ops: string | null; messages: string | null };

/** Runs `fn` on a written installation's profile store, outside any flush. */
async function withStore<T>(fn: (store: ProfileStore, sql: SqlStorage) => T): Promise<T> {
  const p = await createProject();
  const i = crypto.randomUUID();
  await batch(p, i, [attributes({ tier: "gold" })]);
  return runInDurableObject(installationStub(p.projectId, i), (object, state) => {
    // biome-ignore lint/complexity/useLiteralKeys: the object's store, driven directly.
    const store = object["store"] as ProfileStore;
    store.holder = { projectId: p.projectId, kind: "installation", id: i };
    return fn(store, state.storage.sql);
  });
}

const rows = (sql: SqlStorage) =>
  sql.exec<Row>("SELECT seq, profile_id, ops, messages FROM commits ORDER BY seq").toArray();

describe("the commit log", () => {
  it("writes a commit's op IDs and its messages as one row", async () => {
    const written = await withStore((store, sql) => {
      const before = rows(sql).length;
      store.transaction(() => {
        store.processed.record(["op-a", "op-b"], "p-1", Date.now());
        store.commits.stage("events", null, { type: "bundle", messages: [] });
      });
      return rows(sql).slice(before);
    });
    expect(written).toHaveLength(1);
    expect(JSON.parse(String(written[0]?.ops))).toEqual(["op-a", "op-b"]);
    expect(JSON.parse(String(written[0]?.messages))).toHaveLength(1);
  });

  it("sees the op IDs of the transaction under way before they are written", async () => {
    const seen = await withStore((store) =>
      store.transaction(() => {
        store.processed.forget();
        store.processed.record(["op-early"], "p-1", Date.now());
        return {
          among: [...store.processed.among(["op-early", "op-other"])],
          ofProfile: store.processed.ofProfile("p-1").map((o) => o.opId),
        };
      }),
    );
    expect(seen).toEqual({ among: ["op-early"], ofProfile: ["op-early"] });
  });

  it("keeps the messages a row owes when its profile's op IDs are removed", async () => {
    const left = await withStore((store, sql) => {
      const before = rows(sql).length;
      store.transaction(() => {
        store.processed.record(["op-gone"], "p-removed", Date.now());
        store.commits.stage("events", null, { type: "bundle", messages: [] });
      });
      store.transaction(() => store.processed.record(["op-sent"], "p-removed", Date.now()));
      store.transaction(() => store.processed.remove("p-removed"));
      return rows(sql).slice(before);
    });
    // The row with a message keeps it, without the op IDs; the row of op IDs alone is gone.
    expect(left).toEqual([expect.objectContaining({ profile_id: null, ops: null })]);
    expect(left[0]?.messages).toContain("bundle");
  });

  it("prunes op IDs a window past the idempotency window but not a row whose messages are still owed", async () => {
    const left = await withStore((store, sql) => {
      const old = Date.now() - 2 * LIMITS.idempotencyWindowMs - 60_000;
      const first = sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM commits").one().seq;
      sql.exec("INSERT INTO commits (seq, at, ops) VALUES (?, ?, '[\"old-sent\"]')", first - 2, old);
      sql.exec("INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"old-owed\"]', '[]')", first - 1, old);
      store.processed.forget();
      // The batch above pruned a moment ago, and pruning runs at most once a minute: due again.
      // biome-ignore lint/complexity/useLiteralKeys: the time of the last prune, set back.
      store.processed["prunedAt"] = 0;
      store.transaction(() => store.processed.record(["op-new"], null, Date.now()));
      return rows(sql).flatMap((r) => (r.ops ? (JSON.parse(r.ops) as string[]) : []));
    });
    expect(left).not.toContain("old-sent");
    expect(left).toContain("old-owed");
    expect(left).toContain("op-new");
  });

  it("writes a commit in the place of the first row once it is past the window, and not before", async () => {
    // The object's clock is the test's from its start (it keeps `Date.now` as it finds it).
    vi.useFakeTimers({ toFake: ["Date"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const p = await createProject();
    const i = crypto.randomUUID();
    await batch(p, i, [attributes({ tier: "gold" })]);
    const stub = installationStub(p.projectId, i);
    const expired = Date.now() - LIMITS.idempotencyWindowMs - 60_000;
    await runInDurableObject(stub, (_o, state) => {
      const sql = state.storage.sql;
      const first = sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM commits").one().seq;
      sql.exec("INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"expired\"]', '')", first - 2, expired);
      sql.exec("INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"recent\"]', '')", first - 1, Date.now());
    });
    // The object read its first row at its first commit (none then), and reads it again a minute on.
    vi.setSystemTime(Date.now() + 61_000);
    const before = (await querySql(stub, "SELECT seq FROM commits ORDER BY seq")).map((r) => Number(r.seq));
    const written = await rowsWritten({ installation: stub }, () => batch(p, i, [attributes({ tier: "silver" })]));
    const after = await querySql(stub, "SELECT seq, ops FROM commits ORDER BY seq");
    // The expired row became the new commit's, numbered last: one row written, not a delete and
    // an insert (the other row: the batch before, its messages forgotten once sent). The recent
    // one is kept.
    expect(written.installation?.commits).toBe(2);
    expect(after).toHaveLength(before.length);
    expect(after.map((r) => r.ops)).not.toContain('["expired"]');
    expect(after.map((r) => r.ops)).toContain('["recent"]');
    expect(Number(after.at(-1)?.seq)).toBeGreaterThan(Math.max(...before));
    // The next commit finds a first row within the window: a row of its own.
    await batch(p, i, [attributes({ tier: "bronze" })]);
    expect(await querySql(stub, "SELECT seq FROM commits")).toHaveLength(before.length + 1);
  });

  it("keeps the first row at the window's last millisecond, when its op IDs still count", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const left = await withStore((store, sql) => {
      const first = sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM commits").one().seq;
      vi.setSystemTime(Date.now() + 61_000);
      const edge = Date.now() - LIMITS.idempotencyWindowMs;
      sql.exec("INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"edge\"]', '')", first - 1, edge);
      store.processed.forget();
      const counted = store.processed.among(["edge"]).has("edge");
      store.transaction(() => store.processed.record(["op-new"], null, Date.now()));
      return { counted, ops: rows(sql).map((r) => r.ops) };
    });
    expect(left.counted).toBe(true);
    expect(left.ops).toContain('["edge"]');
  });

  it("hands over at sign-in only a profile's op IDs within the window", async () => {
    const handed = await withStore((store, sql) => {
      const expired = Date.now() - LIMITS.idempotencyWindowMs - 60_000;
      const first = sql.exec<{ seq: number }>("SELECT min(seq) AS seq FROM commits").one().seq;
      sql.exec(
        "INSERT INTO commits (seq, at, profile_id, ops, messages) VALUES (?, ?, 'p-old', '[\"expired\"]', '')",
        first - 1,
        expired,
      );
      store.transaction(() => store.processed.record(["recent"], "p-old", Date.now()));
      return store.processed.ofProfile("p-old").map((o) => o.opId);
    });
    expect(handed).toEqual(["recent"]);
  });

  it("finds where sending stopped by reading back from the last row, and reads on from there", async () => {
    const found = await withStore((store, sql) => {
      const top = sql.exec<{ seq: number }>("SELECT max(seq) AS seq FROM commits").one().seq;
      const at = Date.now();
      // Sent, then owed, then a commit that owed nothing.
      sql.exec("INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"s\"]', '')", top + 1, at);
      sql.exec(
        "INSERT INTO commits (seq, at, ops, messages) VALUES (?, ?, '[\"o\"]', ?)",
        top + 2,
        at,
        JSON.stringify([["events", null, { type: "bundle", messages: [] }]]),
      );
      sql.exec("INSERT INTO commits (seq, at, ops) VALUES (?, ?, '[\"n\"]')", top + 3, at);
      const sent = store.commits.lastSent();
      return { sent: sent - top, owed: store.commits.rows(sent).entries.map((e) => e.seq - top) };
    });
    expect(found).toEqual({ sent: 1, owed: [2] });
  });
});
