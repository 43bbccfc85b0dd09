import { runInDurableObject } from "cloudflare:test";

type Stub = DurableObjectStub<Rpc.DurableObjectBranded | undefined>;
type Exec = SqlStorage["exec"];

/** Wraps the object's `sql.exec` (the instance its tables use) until the object is evicted. */
function wrapExec(stub: Stub, check: (query: string, params: unknown[]) => void): Promise<void> {
  return runInDurableObject(stub, (_o, state) => {
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql) as Exec;
    sql.exec = ((query: string, ...params: SqlStorageValue[]) => {
      check(query, params);
      return exec(query, ...params);
    }) as Exec;
  });
}

/** A fault that never heals: every statement of the object matching `pattern` throws. */
export function failStatements(stub: Stub, pattern: RegExp): Promise<void> {
  return wrapExec(stub, (query) => {
    if (pattern.test(query)) throw new Error(`injected fault: ${query.slice(0, 60)}`);
  });
}

/**
 * A fault that heals: the next statement of the object starting with `prefix` throws, once, as
 * a storage failure in the middle of a commit would.
 */
export function failOnce(stub: Stub, prefix: string): Promise<void> {
  let armed = true;
  return wrapExec(stub, (query) => {
    if (!armed || !query.trimStart().startsWith(prefix)) return;
    armed = false;
    throw new Error("injected storage failure");
  });
}

const encoder = new TextEncoder();

/**
 * Holds the object to Cloudflare's documented Durable Object SQLite limits, which workerd does
 * not enforce: a value of at most 2 MB, at most 100 bound parameters, a statement of ~100 KB.
 */
export function enforceSqlLimits(stub: Stub): Promise<void> {
  return wrapExec(stub, (query, params) => {
    if (params.length > 100) throw new Error(`SQLITE_TOOBIG: ${params.length} bound parameters`);
    if (encoder.encode(query).byteLength > 100_000) throw new Error("SQLITE_TOOBIG: statement too long");
    for (const p of params) {
      const bytes = typeof p === "string" ? encoder.encode(p).byteLength : p instanceof ArrayBuffer ? p.byteLength : 0;
      if (bytes > 2 * 1024 * 1024) throw new Error(`SQLITE_TOOBIG: a value of ${bytes} bytes`);
    }
  });
}
