import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { finishPiece } from "../../src/messaging/store";

const PIECES = 200;

/** env.DB, recording the D1 rows each batch read (its statements' `meta.rows_read`). */
function countingDb(db: D1Database, reads: number[]): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          reads.push(results.reduce((n, r) => n + (r.meta?.rows_read ?? 0), 0));
          return results;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function message(pieces: number): Promise<string> {
  const token = crypto.randomUUID();
  const now = new Date().toISOString();
  await env.DB.prepare(
    "INSERT INTO messages (token, project_id, group_id, payload, recipients, pieces, created_at, expires_at) VALUES (?, ?, 'pieces', '{}', ?, ?, ?, ?)",
  )
    .bind(token, crypto.randomUUID(), pieces * 25, pieces, now, now)
    .run();
  return token;
}

const stateOf = (token: string) =>
  env.DB.prepare("SELECT pieces_done, completed_at FROM messages WHERE token = ?")
    .bind(token)
    .first<{ pieces_done: number; completed_at: string | null }>();

describe("a message's finished pieces", () => {
  it("are counted as they finish: the last of many reads as few D1 rows as the first", async () => {
    const token = await message(PIECES);
    const reads: number[] = [];
    const counting = { ...env, DB: countingDb(env.DB, reads) } as Env;
    for (let piece = 0; piece < PIECES; piece++) await finishPiece(counting, token, piece, 0);
    expect(reads).toHaveLength(PIECES);
    // Counting the finished pieces read each of them again: the last piece read 200 rows.
    expect(Math.max(...reads)).toBeLessThanOrEqual(10);
    expect(reads.at(-1)).toBe(reads[0]);
    expect(await stateOf(token)).toMatchObject({ pieces_done: PIECES, completed_at: expect.any(String) });
  });

  it("count a redelivered piece once, and complete the message only with its last piece", async () => {
    const token = await message(3);
    await finishPiece(env, token, 0, 0);
    await finishPiece(env, token, 1, 2);
    await finishPiece(env, token, 1, 2);
    await finishPiece(env, token, 0, 0);
    expect(await stateOf(token)).toEqual({ pieces_done: 2, completed_at: null });
    await finishPiece(env, token, 2, 0);
    const done = await stateOf(token);
    expect(done).toMatchObject({ pieces_done: 3, completed_at: expect.any(String) });
    // A piece delivered again after the end changes nothing.
    await finishPiece(env, token, 2, 0);
    expect(await stateOf(token)).toEqual(done);
  });
});
