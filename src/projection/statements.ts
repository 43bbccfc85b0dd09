import { type SQL, sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { rowChunks } from "../db/rows";
import type { Holder, InstallationProjection, ProfileProjection } from "../queue/messages";

/*
 * The D1 statements of one projection batch. D1 bills every row written, and every index entry
 * a write touches is a row too, so these statements write only what differs from what D1 holds:
 * the comparison runs inside each statement, in the same transaction as the write, so it costs
 * no read round trip and no other writer can slip in between the look and the write.
 *
 * - A row that is already what the object holds is not written at all (an upsert that sets the
 *   same values still writes the row and every index over a column it sets).
 * - A row that changed is written by the statement that sets only the columns that changed,
 *   so an index over an unchanged column is not rewritten (SQLite rewrites an index entry when
 *   its column is named in SET, whatever the value).
 *
 * Ordering: profiles and installations move forward only (`version` greater than stored).
 * Attributes and array items are written only for a profile whose D1 row is, after the profile
 * statements, at exactly the version read from the object: a late or duplicate state of an older
 * version, or a privacy tombstone (at the highest version), leaves them alone.
 */

/** Raw SQL: drizzle's `db.batch` cannot bind the parameters of `db.run(sql)`, so these go to D1 directly. */
export type Statement = SQL;

const dialect = new SQLiteSyncDialect();

export type Preparable = SQL | { toSQL(): { sql: string; params: unknown[] } };

/** A statement for `D1Database.batch`. */
export function prepare(d1: D1Database, statement: Preparable): D1PreparedStatement {
  const query = "toSQL" in statement ? statement.toSQL() : dialect.sqlToQuery(statement);
  return d1.prepare(query.sql).bind(...query.params);
}
export type ProfileState = { projectId: string; state: ProfileProjection; holder: Holder };
export type InstallationState = { projectId: string; state: InstallationProjection };

/** `(SELECT value->>'$[0]' AS a, … FROM json_each(?))`: rows as one bound JSON parameter (see src/db/rows.ts). */
function source(columns: readonly string[], rows: unknown[][]): SQL {
  const picks = columns.map((column, i) => `value->>'$[${i}]' AS ${column}`).join(", ");
  return sql`(SELECT ${sql.raw(picks)} FROM json_each(${JSON.stringify(rows)}))`;
}

/** `a IS b AND …` / `a IS NOT b OR …` for the named columns of the target table and `j`. */
const same = (table: string, columns: readonly string[]) =>
  sql.raw(columns.map((c) => `${table}.${c} IS j.${c}`).join(" AND "));
const differs = (table: string, columns: readonly string[]) =>
  sql.raw(`(${columns.map((c) => `${table}.${c} IS NOT j.${c}`).join(" OR ")})`);
const setFromJ = (columns: readonly string[]) => sql.raw(columns.map((c) => `${c} = j.${c}`).join(", "));

/** The profile row of `j` is at the version `j` was read at: its attributes may be written. */
const CURRENT = sql.raw(
  "EXISTS (SELECT 1 FROM profiles p WHERE p.project_id = j.project_id AND p.profile_id = j.profile_id AND p.version = j.version)",
);

/** How an attribute value is stored so that each operator can use an index. */
export function attributeColumns(value: ProfileProjection["attributes"][number]["value"]) {
  if (Array.isArray(value)) return { valueText: null, valueNum: null, valueJson: JSON.stringify(value) };
  if (typeof value === "number") return { valueText: null, valueNum: value, valueJson: null };
  if (typeof value === "boolean") return { valueText: String(value), valueNum: null, valueJson: null };
  return { valueText: value === null ? null : String(value), valueNum: null, valueJson: null };
}

const PROFILE_COLUMNS = [
  "project_id",
  "profile_id",
  "custom_id",
  "state",
  "version",
  "created_at",
  "last_activity_at",
  "holder_kind",
  "holder_id",
] as const;

/**
 * Profiles: new ones inserted; a newer state updates the row with the statement that names the
 * fewest indexed columns (custom_id, state and last_activity_at each have an index). The usual
 * change, attributes or the hour of the last activity, names neither custom_id nor state.
 */
function profileRows(states: ProfileState[]): Statement[] {
  const statements: Statement[] = [];
  const newer = sql.raw(
    "profiles.project_id = j.project_id AND profiles.profile_id = j.profile_id AND j.version > profiles.version",
  );
  const plain = ["version", "holder_kind", "holder_id"];
  for (const chunk of rowChunks(
    states.map(({ projectId, state: p, holder }) => [
      projectId,
      p.profile_id,
      p.custom_id,
      p.state,
      p.version,
      p.created_at,
      p.last_activity_at,
      holder.kind,
      holder.id,
    ]),
  )) {
    const j = source(PROFILE_COLUMNS, chunk);
    statements.push(
      sql`INSERT INTO profiles (${sql.raw(PROFILE_COLUMNS.join(", "))}) SELECT * FROM ${j} WHERE true
        ON CONFLICT DO NOTHING`,
      sql`UPDATE profiles SET ${setFromJ(["custom_id", "state", "last_activity_at", ...plain])} FROM ${j} AS j
        WHERE ${newer} AND ${differs("profiles", ["custom_id", "state"])}`,
      sql`UPDATE profiles SET ${setFromJ(["last_activity_at", ...plain])} FROM ${j} AS j
        WHERE ${newer} AND profiles.last_activity_at IS NOT j.last_activity_at`,
      sql`UPDATE profiles SET ${setFromJ(plain)} FROM ${j} AS j WHERE ${newer}`,
    );
  }
  return statements;
}

const ATTRIBUTE_COLUMNS = [
  "project_id",
  "profile_id",
  "name",
  "type",
  "value_text",
  "value_num",
  "value_json",
  "version",
] as const;
const VALUES = ["value_text", "value_num", "value_json"] as const;

/**
 * Attributes: new ones inserted, changed ones updated (a change within one value column sets
 * that column alone: the text and number indexes are each rewritten only when their column
 * changes), vanished ones deleted. `version` is the profile version a row last changed at.
 */
function attributeRows(states: ProfileState[]): Statement[] {
  const statements: Statement[] = [];
  const rows = states.flatMap(({ projectId, state: p }) =>
    p.attributes.map((a) => {
      const v = attributeColumns(a.value);
      return [projectId, p.profile_id, a.name, a.type, v.valueText, v.valueNum, v.valueJson, p.version];
    }),
  );
  const key = sql.raw(
    "profile_attributes.project_id = j.project_id AND profile_attributes.profile_id = j.profile_id AND profile_attributes.name = j.name",
  );
  for (const chunk of rowChunks(rows)) {
    const j = source(ATTRIBUTE_COLUMNS, chunk);
    statements.push(
      sql`INSERT INTO profile_attributes (${sql.raw(ATTRIBUTE_COLUMNS.join(", "))})
        SELECT * FROM ${j} AS j WHERE ${CURRENT} ON CONFLICT DO NOTHING`,
    );
    for (const column of VALUES) {
      const others = VALUES.filter((c) => c !== column);
      statements.push(
        sql`UPDATE profile_attributes SET ${setFromJ([column, "type", "version"])} FROM ${j} AS j
          WHERE ${key} AND ${CURRENT} AND ${same("profile_attributes", others)}
            AND profile_attributes.${sql.raw(column)} IS NOT j.${sql.raw(column)}`,
      );
    }
    // Whatever still differs: a type change, or a value that moved between columns.
    statements.push(
      sql`UPDATE profile_attributes SET ${setFromJ(["type", ...VALUES, "version"])} FROM ${j} AS j
        WHERE ${key} AND ${CURRENT} AND ${differs("profile_attributes", ["type", ...VALUES])}`,
    );
  }
  return statements;
}

/** One key row per profile: [project, profile, version, names or [name, item] pairs]. */
function keysOf(states: ProfileState[], entries: (p: ProfileProjection) => unknown[]) {
  return states.map(({ projectId, state: p }) => [projectId, p.profile_id, p.version, entries(p)]);
}

const KEY_COLUMNS = ["project_id", "profile_id", "version", "present"] as const;

function itemsOf(p: ProfileProjection): [string, string][] {
  return p.attributes.flatMap((a) =>
    Array.isArray(a.value) ? [...new Set(a.value)].map((item): [string, string] => [a.name, String(item)]) : [],
  );
}

/** Attributes the object no longer holds, and array items no longer in their array. */
function deletions(states: ProfileState[]): Statement[] {
  const statements: Statement[] = [];
  for (const chunk of rowChunks(keysOf(states, (p) => p.attributes.map((a) => a.name)))) {
    const j = source(KEY_COLUMNS, chunk);
    statements.push(
      sql`DELETE FROM profile_attributes WHERE (project_id, profile_id, name) IN (
        SELECT a.project_id, a.profile_id, a.name FROM ${j} AS j
          JOIN profile_attributes a ON a.project_id = j.project_id AND a.profile_id = j.profile_id
        WHERE ${CURRENT} AND a.name NOT IN (SELECT value FROM json_each(j.present)))`,
    );
  }
  for (const chunk of rowChunks(keysOf(states, itemsOf))) {
    const j = source(KEY_COLUMNS, chunk);
    statements.push(
      sql`DELETE FROM profile_attribute_items WHERE (project_id, profile_id, name, item) IN (
        SELECT t.project_id, t.profile_id, t.name, t.item FROM ${j} AS j
          JOIN profile_attribute_items t ON t.project_id = j.project_id AND t.profile_id = j.profile_id
        WHERE ${CURRENT}
          AND (t.name, t.item) NOT IN (SELECT value->>'$[0]', value->>'$[1]' FROM json_each(j.present)))`,
    );
  }
  return statements;
}

const ITEM_COLUMNS = ["project_id", "profile_id", "name", "item", "version"] as const;

/** Array items, one row each, so `contains` is an index lookup (src/segments/compile.ts). */
function itemRows(states: ProfileState[]): Statement[] {
  const rows = states.flatMap(({ projectId, state: p }) =>
    itemsOf(p).map(([name, item]) => [projectId, p.profile_id, name, item, p.version]),
  );
  return rowChunks(rows).map(
    (chunk) =>
      sql`INSERT INTO profile_attribute_items (${sql.raw(ITEM_COLUMNS.join(", "))})
      SELECT * FROM ${source(ITEM_COLUMNS, chunk)} AS j WHERE ${CURRENT} ON CONFLICT DO NOTHING`,
  );
}

/**
 * One state per profile, the highest version: a profile moving at sign-in can be reported by
 * both of its holders, and `UPDATE … FROM` picks any one of several matching rows.
 */
function newestPerProfile(states: ProfileState[]): ProfileState[] {
  const newest = new Map<string, ProfileState>();
  for (const s of states) {
    const key = JSON.stringify([s.projectId, s.state.profile_id]);
    const kept = newest.get(key);
    if (!kept || s.state.version > kept.state.version) newest.set(key, s);
  }
  return [...newest.values()];
}

/**
 * D1 keeps the attributes of active profiles only: an orphan's go when it is orphaned (nothing
 * reads them: segments and exports select active profiles, the debug view and the privacy
 * review read the objects), so a segment counts one attribute condition from its index alone,
 * without asking each match's profile whether it is active (src/segments/plan.ts).
 */
function searchable(s: ProfileState): ProfileState {
  return s.state.state === "active" ? s : { ...s, state: { ...s.state, attributes: [] } };
}

/** Every statement that brings D1 to these profile states, in the order they must run. */
export function profileStatements(all: ProfileState[]): Statement[] {
  if (all.length === 0) return [];
  const states = newestPerProfile(all).map(searchable);
  return [...profileRows(states), ...attributeRows(states), ...itemRows(states), ...deletions(states)];
}

const INSTALLATION_COLUMNS = [
  "project_id",
  "installation_id",
  "profile_id",
  "custom_id",
  "app_id",
  "platform",
  "push_optin",
  "last_seen_at",
  "version",
  "push_token_key",
] as const;

/**
 * Installations: new ones inserted; a newer state updates the row, naming the indexed columns
 * (profile_id, platform, push_optin, app_id, push_token_key, last_seen_at) only when one of them changed.
 * The usual change, a new hour of `last_seen_at`, rewrites one index.
 */
export function installationStatements(states: InstallationState[]): Statement[] {
  const newer = sql.raw(
    "installations.project_id = j.project_id AND installations.installation_id = j.installation_id AND j.version > installations.version",
  );
  const indexed = ["profile_id", "platform", "push_optin", "app_id", "push_token_key"];
  return rowChunks(
    states.map(({ projectId, state: i }) => [
      projectId,
      i.installation_id,
      i.profile_id,
      i.custom_id,
      i.app_id,
      i.platform,
      i.push_optin === null ? null : i.push_optin ? 1 : 0,
      i.last_seen_at,
      i.version,
      i.push_token_key ?? null,
    ]),
  ).flatMap((chunk) => {
    const j = source(INSTALLATION_COLUMNS, chunk);
    return [
      sql`INSERT INTO installations (${sql.raw(INSTALLATION_COLUMNS.join(", "))}) SELECT * FROM ${j} WHERE true
        ON CONFLICT DO NOTHING`,
      sql`UPDATE installations SET ${setFromJ(INSTALLATION_COLUMNS.slice(2))} FROM ${j} AS j
        WHERE ${newer} AND ${differs("installations", indexed)}`,
      sql`UPDATE installations SET ${setFromJ(["custom_id", "last_seen_at", "version"])} FROM ${j} AS j
        WHERE ${newer} AND installations.last_seen_at IS NOT j.last_seen_at`,
      sql`UPDATE installations SET ${setFromJ(["custom_id", "version"])} FROM ${j} AS j WHERE ${newer}`,
    ];
  });
}
