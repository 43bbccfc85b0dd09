import { env } from "cloudflare:workers";
import { projectShard } from "../../src/db/shards";

/** What a D1 binding was asked to do: round trips, and rows written as D1 reports them (`meta.rows_written`). */
export interface D1Tally {
  roundTrips: number;
  rowsWritten: number;
  /** Rows written by each statement, in the order they ran. */
  perStatement: number[];
}

type Meta = { meta?: { rows_written?: number } };

/**
 * Wraps a D1 binding so a test can count what a piece of code costs: each `batch`, `exec` and
 * statement run is one round trip, and every result's `meta.rows_written` adds up. The wrapped
 * binding hands everything to the real one.
 */
export function countingD1(db: D1Database = env.DB): { db: D1Database; tally: D1Tally } {
  const tally: D1Tally = { roundTrips: 0, rowsWritten: 0, perStatement: [] };
  const record = (result: unknown) => {
    const written = (result as Meta)?.meta?.rows_written ?? 0;
    tally.rowsWritten += written;
    tally.perStatement.push(written);
  };
  const RAW = Symbol("raw");
  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, prop) {
        if (prop === RAW) return target;
        if (prop === "bind") return (...values: unknown[]) => wrapStatement(target.bind(...values));
        if (prop === "run" || prop === "all") {
          return async (...args: unknown[]) => {
            tally.roundTrips++;
            const result = await (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args);
            record(result);
            return result;
          };
        }
        if (prop === "first" || prop === "raw") {
          return async (...args: unknown[]) => {
            tally.roundTrips++;
            return (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const unwrap = (statement: D1PreparedStatement) =>
    (statement as unknown as Record<symbol, D1PreparedStatement | undefined>)[RAW] ?? statement;
  const wrapped = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => wrapStatement(target.prepare(query));
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          tally.roundTrips++;
          const results = await target.batch(statements.map(unwrap));
          for (const r of results) record(r);
          return results;
        };
      }
      if (prop === "exec") {
        return async (query: string) => {
          tally.roundTrips++;
          return target.exec(query);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: wrapped, tally };
}

/** The worker's bindings with `DB` (or any others) replaced, for code that takes `env`. */
export function envWith(db: D1Database | null, others: Partial<Env> = {}): Env {
  const overrides: Partial<Env> = db ? { ...others, DB: db } : others;
  return new Proxy(env, {
    get: (target, prop) => (prop in overrides ? overrides[prop as keyof Env] : Reflect.get(target, prop)),
  }) as Env;
}

/** The worker's bindings with the project's projection shard counted ({@link countingD1}). */
export async function countingShard(projectId: string): Promise<{ env: Env; tally: D1Tally }> {
  const shard = await projectShard(env, projectId);
  const { db, tally } = countingD1(shard.d1);
  return { env: envWith(null, { [shard.name]: db } as Partial<Env>), tally };
}

/** A Rate Limiting binding that counts its calls and hands them to the real one. */
export function countingLimiter(limiter: RateLimit): { limiter: RateLimit; calls: () => number } {
  let calls = 0;
  return {
    limiter: {
      limit: (options) => {
        calls++;
        return limiter.limit(options);
      },
    },
    calls: () => calls,
  };
}
