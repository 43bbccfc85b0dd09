import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../src/identity/attributes";
import type { ProfileStore } from "../../src/identity/profile-store";
import { createProject } from "../support/harness";
import { attributes, batch, installationStub } from "../support/identity";

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

  it("prunes op IDs past the idempotency window but not a row whose messages are still owed", async () => {
    const left = await withStore((store, sql) => {
      const old = Date.now() - LIMITS.idempotencyWindowMs - 60_000;
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
