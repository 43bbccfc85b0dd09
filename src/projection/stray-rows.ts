import { positionOf, shard } from "../db/shards";

/*
 * The last step of a move, and of its rollback: the project's rows deleted from the shards of
 * the placement given up, except those the placement kept puts there. A shard in both keeps its
 * own profiles (fnv1a(profile_id) mod k names its position) and its copy of the audiences.
 */

/** Rows per table and message: a bounded piece of work per queue message. */
export const strayPaging = { rows: 1000 };

/**
 * Where a deletion stands: the shard (its index in the list to clean), then the step on a shard
 * that stays in the placement (its profiles a page at a time; its audiences stay).
 */
export type StrayCursor = { shard: number; step: "profiles" | "audiences"; after: string | null };

const PROFILE_TABLES = ["profiles", "profile_attributes", "profile_attribute_items", "installations"] as const;
const AUDIENCE_TABLES = ["audiences", "audience_members"] as const;

/** Deletes up to a page of each table's rows of the project; true when none was left. */
async function deleteAll(d1: D1Database, projectId: string, tables: readonly string[]): Promise<boolean> {
  const results = await d1.batch(
    tables.map((t) =>
      d1
        .prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE project_id = ? LIMIT ?)`)
        .bind(projectId, strayPaging.rows),
    ),
  );
  return results.every((r) => (r.meta.changes ?? 0) === 0);
}

/**
 * The next page of profile IDs the shard holds rows of, after `after`: each table's first page,
 * merged, so every ID up to the last one returned is in it (whatever table holds it).
 */
async function profileIdsPage(d1: D1Database, projectId: string, after: string | null): Promise<string[]> {
  const firsts = PROFILE_TABLES.map(
    (t) =>
      `SELECT profile_id FROM (SELECT DISTINCT profile_id FROM ${t} WHERE project_id = ?1 AND profile_id > ?2 ORDER BY profile_id LIMIT ?3)`,
  );
  const rows = await d1
    .prepare(`${firsts.join(" UNION ")} ORDER BY 1 LIMIT ?3`)
    .bind(projectId, after ?? "", strayPaging.rows)
    .all<{ profile_id: string }>();
  return rows.results.map((r) => r.profile_id);
}

/**
 * Deletes one page of the project's rows that `clean` (shard names) holds and `keep` (the
 * placement that stays, by position) does not put there. Returns the next cursor, or null when
 * every shard of `clean` is done. Idempotent: a page run again deletes nothing more.
 */
export async function deleteStrayPage(
  env: Env,
  projectId: string,
  clean: readonly string[],
  keep: readonly string[],
  cursor: StrayCursor,
): Promise<StrayCursor | null> {
  const name = clean[cursor.shard];
  if (name === undefined) return null;
  const next: StrayCursor = { shard: cursor.shard + 1, step: "profiles", after: null };
  const { d1 } = shard(env, name);
  const position = keep.indexOf(name);
  if (position < 0) {
    const done = await deleteAll(d1, projectId, [...PROFILE_TABLES, ...AUDIENCE_TABLES]);
    return done ? (clean[next.shard] === undefined ? null : next) : cursor;
  }
  // A shard that stays keeps its copy of the audiences (every shard of a placement holds one).
  if (cursor.step === "audiences") return clean[next.shard] === undefined ? null : next;
  const ids = await profileIdsPage(d1, projectId, cursor.after);
  const stray = JSON.stringify(ids.filter((id) => positionOf(id, keep.length) !== position));
  if (stray !== "[]") {
    await d1.batch(
      PROFILE_TABLES.map((t) =>
        d1
          .prepare(`DELETE FROM ${t} WHERE project_id = ? AND profile_id IN (SELECT value FROM json_each(?))`)
          .bind(projectId, stray),
      ),
    );
  }
  return ids.length === strayPaging.rows
    ? { shard: cursor.shard, step: "profiles", after: ids.at(-1) as string }
    : { shard: cursor.shard, step: "audiences", after: null };
}
