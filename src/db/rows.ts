import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { chunkBy } from "../lib/chunk";

/** JSON characters one statement's parameter may hold: D1 takes 2 MB a value, a character is at most 3 bytes. */
const MAX_PARAMETER_CHARS = 600_000;

/**
 * `SELECT … FROM json_each(?)` yielding `rows` in the table's column order, for
 * `db.insert(table).select(…)`. Any number of rows rides in one bound parameter, where a
 * multi-row VALUES needs a parameter a column (D1 allows 100 a statement) and costs drizzle a
 * node a value to build. Values are mapped as the columns map them (JSON, booleans).
 * The `WHERE true` keeps SQLite from reading a following ON CONFLICT as a join constraint.
 */
export function selectRows<T extends SQLiteTable>(table: T, rows: T["$inferInsert"][]): SQL {
  const columns = Object.entries(getTableColumns(table));
  const data = rows.map((row) =>
    columns.map(([key, column]) => {
      const value = (row as Record<string, unknown>)[key];
      return value === undefined || value === null ? null : column.mapToDriverValue(value);
    }),
  );
  const picks = columns.map((_, i) => `value->>'$[${i}]'`).join(", ");
  return sql`SELECT ${sql.raw(picks)} FROM json_each(${JSON.stringify(data)}) WHERE true`;
}

/** Splits rows so that each `selectRows` parameter stays well under D1's value size limit. */
export function rowChunks<T>(rows: T[]): T[][] {
  return chunkBy(rows, Number.POSITIVE_INFINITY, MAX_PARAMETER_CHARS, (row) => JSON.stringify(row).length);
}
