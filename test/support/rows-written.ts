import { runInDurableObject } from "cloudflare:test";

/** Rows written, by object then by table (`schema` for DDL), as SQLite's cursors report them. */
export type RowsByTable = Record<string, Record<string, number>>;

type Stub = DurableObjectStub<Rpc.DurableObjectBranded | undefined>;

/** The table a statement writes (or a read reads first), read from its text; `schema` for DDL. */
function tableOf(query: string): string {
  const q = query.replace(/\s+/g, " ").trim();
  if (/\b(CREATE|ALTER|DROP) (TABLE|INDEX|VIEW)\b/i.test(q)) return "schema";
  const m = /^(?:INSERT(?: OR \w+)? INTO|REPLACE INTO|UPDATE|DELETE FROM) "?(\w+)/i.exec(q);
  return m?.[1] ?? /\bFROM "?(\w+)/i.exec(q)?.[1] ?? "other";
}

/**
 * Counts the rows every SQL statement of the named objects writes while `run` runs (and while
 * `settle` waits for deferred work, such as the outbox deleting what it sent). It wraps
 * `SqlStorage.prototype.exec` of this isolate, where the test's Durable Objects run; index
 * entries count, as Cloudflare bills them.
 */
export function rowsWritten(
  objects: Record<string, Stub>,
  run: () => Promise<unknown>,
  settle: () => Promise<unknown> = async () => {},
): Promise<RowsByTable> {
  return rowsCounted("rowsWritten", objects, run, settle);
}

/** As `rowsWritten`, the rows read (SPEC §8: billed too, and a whole-table read shows here). */
export function rowsRead(
  objects: Record<string, Stub>,
  run: () => Promise<unknown>,
  settle: () => Promise<unknown> = async () => {},
): Promise<RowsByTable> {
  return rowsCounted("rowsRead", objects, run, settle);
}

async function rowsCounted(
  counter: "rowsWritten" | "rowsRead",
  objects: Record<string, Stub>,
  run: () => Promise<unknown>,
  settle: () => Promise<unknown>,
): Promise<RowsByTable> {
  const names = new Map<SqlStorage, string>();
  let proto: { exec: SqlStorage["exec"] } | undefined;
  for (const [name, stub] of Object.entries(objects)) {
    const sql = await runInDurableObject(stub, (_o, state) => state.storage.sql);
    names.set(sql, name);
    proto ??= Object.getPrototypeOf(sql) as { exec: SqlStorage["exec"] };
  }
  if (!proto) throw new Error("no object to watch");
  const cursors: { object: string; table: string; cursor: SqlStorageCursor<Record<string, SqlStorageValue>> }[] = [];
  const original = proto.exec;
  proto.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
    const object = names.get(this);
    // A cursor over several statements reports the rows of its last one only: a script without
    // parameters (DDL) runs one statement at a time here, so each counts.
    const statements = query.split(";").filter((s) => s.trim() !== "");
    if (object && bindings.length === 0 && statements.length > 1) {
      let cursor: SqlStorageCursor<Record<string, SqlStorageValue>> | undefined;
      for (const statement of statements) {
        cursor = original.call(this, statement);
        cursor.toArray();
        cursors.push({ object, table: tableOf(statement), cursor });
      }
      return cursor;
    }
    const cursor = original.call(this, query, ...bindings);
    if (object) cursors.push({ object, table: tableOf(query), cursor });
    return cursor;
  } as SqlStorage["exec"];
  try {
    await run();
    await settle();
  } finally {
    proto.exec = original;
  }
  const out: RowsByTable = {};
  for (const { object, table, cursor } of cursors) {
    const n = cursor[counter];
    if (n === 0) continue;
    const byTable = out[object] ?? {};
    out[object] = byTable;
    byTable[table] = (byTable[table] ?? 0) + n;
  }
  return out;
}

/** The sum of every table's rows in `rows`. */
export function total(rows: RowsByTable): number {
  return Object.values(rows)
    .flatMap((t) => Object.values(t))
    .reduce((a, b) => a + b, 0);
}
