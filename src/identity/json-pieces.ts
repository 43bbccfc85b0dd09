import { chunkBy } from "../lib/chunk";

/**
 * A Durable Object's SQLite takes values of at most 2 MB, 100 bound parameters and ~100 KB of
 * SQL per statement (Cloudflare documents them; workerd does not enforce them). Rows travel to
 * a statement as one JSON parameter that `json_each` unpacks; a piece of at most 1 MB keeps
 * that parameter well inside a value, whatever the rows hold.
 */
export const MAX_PIECE_BYTES = 1024 * 1024;

/** `rows` as JSON arrays of at most `MAX_PIECE_BYTES` each (a lone larger row is its own piece). */
export function jsonPieces(rows: unknown[]): string[] {
  if (rows.length === 0) return [];
  const whole = JSON.stringify(rows);
  // A UTF-16 unit is at most 3 bytes of UTF-8: most calls are one piece without counting bytes.
  if (whole.length * 3 <= MAX_PIECE_BYTES) return [whole];
  return chunkBy(rows, Number.POSITIVE_INFINITY, MAX_PIECE_BYTES).map((piece) => JSON.stringify(piece));
}
