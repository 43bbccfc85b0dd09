import type { ElementClock } from "./array-elements";
import type { Source } from "./attributes";
import { jsonPieces } from "./json-pieces";
import type { StoredAttribute } from "./reconcile";

export const ATTRIBUTES_SCHEMA = `
CREATE TABLE IF NOT EXISTS attributes (
  profile_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT, value TEXT, updated_at TEXT NOT NULL,
  source TEXT NOT NULL, elements TEXT, PRIMARY KEY (profile_id, name)) WITHOUT ROWID;
`;

type AttributeRow = {
  name: string;
  type: string | null;
  value: string | null;
  updated_at: string;
  source: string;
  elements: string | null;
};

/** Objects created before array items had times lack their column: adds it. */
export function upgradeAttributes(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(attributes)").toArray();
  if (!columns.some((c) => c.name === "elements")) sql.exec("ALTER TABLE attributes ADD COLUMN elements TEXT");
}

/**
 * A profile's attributes as stored, tombstones (`value` null) included. Keeps the rows read or
 * written since the object started (null: none), by profile and name, so a busy object
 * reconciles its writes without reading them back. Every write keeps the cache; a removed
 * profile drops its part, a rollback all of it (`forget`).
 */
export class AttributeTable {
  private readonly cache = new Map<string, Map<string, StoredAttribute | null>>();

  constructor(private readonly sql: SqlStorage) {}

  /** The stored attributes (tombstones included) among `names`, by name. */
  named(profileId: string, names: string[]): Map<string, StoredAttribute> {
    let known = this.cache.get(profileId);
    if (!known) {
      known = new Map();
      this.cache.set(profileId, known);
    }
    const missing = [...new Set(names)].filter((name) => !known.has(name));
    if (missing.length) {
      const rows = this.sql
        .exec<AttributeRow>(
          `SELECT name, type, value, updated_at, source, elements FROM attributes
           WHERE profile_id = ? AND name IN (SELECT value FROM json_each(?))`,
          profileId,
          JSON.stringify(missing),
        )
        .toArray();
      for (const name of missing) known.set(name, null);
      for (const row of rows) known.set(row.name, toStored(row));
    }
    const found = new Map<string, StoredAttribute>();
    for (const name of names) {
      const stored = known.get(name);
      if (stored) found.set(name, stored);
    }
    return found;
  }

  /** How many custom (not `$`) attributes hold a value. */
  customCount(profileId: string): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM attributes WHERE profile_id = ? AND value IS NOT NULL AND name NOT LIKE '$%'",
        profileId,
      )
      .one().n;
  }

  /** Writes attributes, their values travelling as JSON parameters within the SQLite limits. */
  put(profileId: string, attributes: StoredAttribute[]): void {
    if (attributes.length === 0) return;
    const rows = attributes.map((a) => [
      a.name,
      a.type,
      a.value === null ? null : JSON.stringify(a.value),
      a.updatedAt,
      a.source,
      a.elements ? JSON.stringify(a.elements) : null,
    ]);
    for (const piece of jsonPieces(rows)) {
      this.sql.exec(
        `INSERT OR REPLACE INTO attributes (profile_id, name, type, value, updated_at, source, elements)
         SELECT ?, value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]', value->>'$[4]', value->>'$[5]'
         FROM json_each(?)`,
        profileId,
        piece,
      );
    }
    const known = this.cache.get(profileId);
    if (known) for (const a of attributes) known.set(a.name, a);
  }

  list(profileId: string, withTombstones = false): StoredAttribute[] {
    return this.sql
      .exec<AttributeRow>(
        `SELECT name, type, value, updated_at, source, elements FROM attributes WHERE profile_id = ?${
          withTombstones ? "" : " AND value IS NOT NULL"
        } ORDER BY name`,
        profileId,
      )
      .toArray()
      .map(toStored);
  }

  remove(profileId: string): void {
    this.sql.exec("DELETE FROM attributes WHERE profile_id = ?", profileId);
    this.cache.delete(profileId);
  }

  /** A rollback may have undone writes the cache holds: forget all of it. */
  forget(): void {
    this.cache.clear();
  }
}

function toStored(row: AttributeRow): StoredAttribute {
  return {
    name: row.name,
    type: row.type as StoredAttribute["type"],
    value: row.value === null ? null : (JSON.parse(row.value) as StoredAttribute["value"]),
    updatedAt: row.updated_at,
    source: row.source as Source,
    ...(row.elements && { elements: JSON.parse(row.elements) as ElementClock }),
  };
}
