import { type DurableObject, env as moduleEnv } from "cloudflare:workers";
import { forward, metered } from "./bindings";
import { count, meterOn } from "./counters";

/*
 * The Durable Object side of the meter: requests into an object (RPC calls, alarms) and the
 * SQLite rows its storage reads and writes.
 */

/**
 * With the meter on, an object's `ctx` and `env` become counting ones: its SQL cursors count
 * their rows, its alarms count, its bindings count as the Worker's do. Call first thing after
 * `super` (which needs the runtime's own state) and build on what it returns.
 */
export function meterObject(
  object: DurableObject<Env>,
  ctx: DurableObjectState,
  env: Env,
): { ctx: DurableObjectState; env: Env } {
  if (!meterOn(env)) return { ctx, env };
  const counted = { ctx: forward(ctx, { storage: meteredStorage(ctx.storage) }), env: metered(env) };
  Object.defineProperty(object, "ctx", { value: counted.ctx });
  Object.defineProperty(object, "env", { value: counted.env });
  return counted;
}

function meteredStorage(storage: DurableObjectStorage): DurableObjectStorage {
  const sql = forward(storage.sql, {
    exec: (query: string, ...bindings: unknown[]) => meteredCursor(storage.sql.exec(query, ...bindings)),
  });
  return forward(storage, {
    sql,
    // Cloudflare bills each setAlarm as a row written; kept apart from the SQL rows.
    setAlarm: (...args: Parameters<DurableObjectStorage["setAlarm"]>) => {
      count("do_alarms_set");
      return storage.setAlarm(...args);
    },
  });
}

/**
 * Cursors are lazy: their rows are read as they are consumed. Each step that consumes folds
 * what the cursor counted since the last fold, so a cursor read later, or only in part, counts
 * exactly what it read. A class, not a proxy with closures per statement: every SQL statement of
 * a metered run makes one, and the closures cost more than the statement's own JavaScript.
 */
class MeteredCursor<T extends Record<string, SqlStorageValue>> implements SqlStorageCursor<T> {
  #read = 0;
  #written = 0;

  constructor(private readonly cursor: SqlStorageCursor<T>) {
    // A statement with no rows to return has run whole by now.
    this.fold();
  }

  fold(): void {
    const { rowsRead, rowsWritten } = this.cursor;
    if (rowsRead !== this.#read) count("do_rows_read", rowsRead - this.#read);
    if (rowsWritten !== this.#written) count("do_rows_written", rowsWritten - this.#written);
    this.#read = rowsRead;
    this.#written = rowsWritten;
  }

  next(): IteratorResult<T, undefined> {
    try {
      return this.cursor.next();
    } finally {
      this.fold();
    }
  }

  toArray(): T[] {
    try {
      return this.cursor.toArray();
    } finally {
      this.fold();
    }
  }

  one(): T {
    try {
      return this.cursor.one();
    } finally {
      this.fold();
    }
  }

  raw<U extends SqlStorageValue[]>(): IterableIterator<U> {
    const rows = this.cursor.raw<U>();
    const stepper: IterableIterator<U> = {
      next: () => {
        try {
          return rows.next();
        } finally {
          this.fold();
        }
      },
      [Symbol.iterator]: () => stepper,
    };
    return stepper;
  }

  get columnNames(): string[] {
    return this.cursor.columnNames;
  }

  get rowsRead(): number {
    return this.cursor.rowsRead;
  }

  get rowsWritten(): number {
    return this.cursor.rowsWritten;
  }

  // for…of, spreads and Array.from step through the wrapper, not around it.
  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

function meteredCursor<T extends Record<string, SqlStorageValue>>(cursor: SqlStorageCursor<T>): SqlStorageCursor<T> {
  return new MeteredCursor(cursor);
}

type Methods<T> = { [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => unknown ? K : never }[keyof T];
/** The handlers the runtime itself calls, wrapped wherever a class defines them. */
const HANDLERS = ["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"];

/**
 * Counts every call into an object class, each one request as Cloudflare bills them: the
 * handlers it defines (`alarm`, `fetch`…) and the RPC methods `rpc` marks true. `rpc` names
 * every public method of the class (TypeScript keeps it whole: a new public method does not
 * compile until it is named). Nothing is wrapped unless the module loads with the meter on.
 */
export function meterRequests<T>(
  // biome-ignore lint/suspicious/noExplicitAny: any object class; its instances are what is typed.
  objectClass: abstract new (...args: any[]) => T,
  rpc: Record<Exclude<Methods<T>, Methods<DurableObject>>, boolean>,
): void {
  if (!meterOn(moduleEnv)) return;
  const proto = objectClass.prototype as Record<string, unknown>;
  const names = [
    ...HANDLERS.filter((h) => Object.hasOwn(proto, h)),
    ...Object.keys(rpc).filter((m) => rpc[m as never]),
  ];
  for (const name of names) {
    const method = proto[name];
    if (typeof method !== "function") continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      count("do_requests");
      return method.apply(this, args);
    };
  }
}
