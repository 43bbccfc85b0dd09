import { count, meterOn } from "./counters";

/*
 * Env bindings that count what they spend: D1 queries and their rows, queue messages, R2
 * operations by pricing class. Wrapped once per env object, and only when the meter is on.
 */

const wrappedEnvs = new WeakMap<object, Env>();

/** `env` with its D1, queue and R2 bindings counted; `env` itself when the meter is off. */
export function metered(env: Env): Env {
  if (!meterOn(env)) return env;
  let wrapped = wrappedEnvs.get(env);
  if (!wrapped) {
    const bindings = new Map<PropertyKey, unknown>();
    wrapped = new Proxy(env, {
      get(target, prop) {
        if (!bindings.has(prop)) bindings.set(prop, wrapBinding(Reflect.get(target, prop)));
        return bindings.get(prop);
      },
    });
    wrappedEnvs.set(env, wrapped);
  }
  return wrapped;
}

/** Recognizes a binding by its methods: the env also holds vars, secrets and other bindings. */
function wrapBinding(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const has = (name: string) => typeof (value as Record<string, unknown>)[name] === "function";
  if (has("prepare") && has("batch")) return meteredD1(value as D1Database);
  if (has("send") && has("sendBatch")) return meteredQueue(value as Queue);
  if (has("put") && has("head") && has("createMultipartUpload")) return meteredR2(value as R2Bucket);
  return value;
}

/**
 * A proxy answering `own` for those names, and the target's members, bound to it, for the rest.
 * A method is bound once and kept: an object's storage and `ctx` are read on every SQL statement
 * of a metered run, and a fresh bound function each time was a measurable share of its CPU.
 */
export function forward<T extends object>(target: T, own: Record<PropertyKey, unknown>): T {
  const bound = new Map<PropertyKey, { of: unknown; fn: unknown }>();
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(own, prop)) return own[prop];
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      // Kept while the target's member is the same function (it could be reassigned).
      const kept = bound.get(prop);
      if (kept?.of === value) return kept.fn;
      const fn = value.bind(t);
      bound.set(prop, { of: value, fn });
      return fn;
    },
  });
}

function meteredQueue(queue: Queue): Queue {
  return forward(queue, {
    send: (body: unknown, options?: QueueSendOptions) => {
      count("queue_messages");
      return queue.send(body, options);
    },
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages];
      count("queue_messages", list.length);
      return queue.sendBatch(list, options);
    },
  });
}

/**
 * R2 by Cloudflare's pricing classes: writes and lists are class A, reads class B; deletes and
 * aborted multipart uploads are free.
 */
function meteredR2(bucket: R2Bucket): R2Bucket {
  const classA =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) => {
      count("r2_class_a");
      return fn(...args);
    };
  const classB =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) => {
      count("r2_class_b");
      return fn(...args);
    };
  return forward(bucket, {
    put: classA(bucket.put.bind(bucket)),
    list: classA(bucket.list.bind(bucket)),
    get: classB(bucket.get.bind(bucket)),
    head: classB(bucket.head.bind(bucket)),
    createMultipartUpload: classA(async (key: string, options?: R2MultipartOptions) =>
      meteredUpload(await bucket.createMultipartUpload(key, options)),
    ),
    // Resuming sends nothing: only the upload's own calls cost.
    resumeMultipartUpload: (key: string, uploadId: string) =>
      meteredUpload(bucket.resumeMultipartUpload(key, uploadId)),
  });
}

function meteredUpload(upload: R2MultipartUpload): R2MultipartUpload {
  return forward(upload, {
    uploadPart: (...args: Parameters<R2MultipartUpload["uploadPart"]>) => {
      count("r2_class_a");
      return upload.uploadPart(...args);
    },
    complete: (parts: R2UploadedPart[]) => {
      count("r2_class_a");
      return upload.complete(parts);
    },
  });
}

type Meta = { rows_read?: number; rows_written?: number } | undefined;

function countD1(meta: Meta): void {
  count("d1_queries");
  count("d1_rows_read", meta?.rows_read ?? 0);
  count("d1_rows_written", meta?.rows_written ?? 0);
}

/** Statement proxies → the statements D1 made, for `batch`. */
const statements = new WeakMap<object, D1PreparedStatement>();

const INDEX_KEY = /^(0|[1-9]\d*)$/;

function meteredD1(db: D1Database): D1Database {
  return forward(db, {
    prepare: (query: string) => meteredStatement(db.prepare(query)),
    batch: async (list: D1PreparedStatement[]) => {
      const results = await db.batch(list.map((s) => statements.get(s) ?? s));
      for (const r of results) countD1(r.meta);
      return results;
    },
    // exec() answers a count and a duration, no rows: its statements are counted apart.
    exec: async (query: string) => {
      const result = await db.exec(query);
      count("d1_queries_without_meta", result.count);
      return result;
    },
  });
}

/**
 * `first()` and `raw()` drop the result's `meta`; under the meter they run as `all()`, which
 * carries it, and give the same answer. `raw()` maps rows to arrays as drizzle's own batch path
 * does: exact while a query's output columns have distinct names, as every query here does
 * (drizzle selects name their columns; none joins two same-named ones).
 */
function meteredStatement(statement: D1PreparedStatement): D1PreparedStatement {
  const all = async <T>() => {
    const result = await statement.all<T>();
    countD1(result.meta);
    return result;
  };
  const proxy = forward(statement, {
    bind: (...values: unknown[]) => meteredStatement(statement.bind(...values)),
    all,
    run: async () => {
      const result = await statement.run();
      countD1(result.meta);
      return result;
    },
    first: async (column?: string) => {
      const row = (await all<Record<string, unknown>>()).results[0];
      if (row === undefined) return null;
      if (column === undefined) return row;
      if (row[column] === undefined) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
      return row[column];
    },
    raw: async (options?: { columnNames?: boolean }) => {
      // Column names of an empty result only come with raw(): counted, without rows.
      if (options?.columnNames) {
        count("d1_queries_without_meta");
        return statement.raw({ columnNames: true });
      }
      const rows = (await all<Record<string, unknown>>()).results;
      return rows.map((row) => {
        const keys = Object.keys(row);
        // Integer-like names come first in an object whatever their place: refuse, never reorder.
        if (keys.length > 1 && keys.some((k) => INDEX_KEY.test(k))) {
          throw new Error(`meter: raw() cannot keep the column order of ${JSON.stringify(keys)}`);
        }
        return Object.values(row);
      });
    },
  });
  statements.set(proxy, statement);
  return proxy;
}
