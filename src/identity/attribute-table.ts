import type { ElementClock } from "./array-elements";
import type { Source } from "./attributes";
import { jsonPieces } from "./json-pieces";
import { OnDemandTable } from "./on-demand-table";
import type { StoredAttribute } from "./reconcile";

/**
 * One row per attribute: where every attribute lived before a profile's attributes moved into its
 * profile row, and where an attribute too large for that row still goes (see `AttributeTable`).
 * Made by the first write that needs it, not by an object's first write.
 */
export const ATTRIBUTES_SCHEMA = `
CREATE TABLE IF NOT EXISTS attributes (
  profile_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT, value TEXT, updated_at TEXT NOT NULL,
  source TEXT NOT NULL, elements TEXT, PRIMARY KEY (profile_id, name)) WITHOUT ROWID;
`;

/**
 * An attribute whose entry is larger stays in a row of its own: with the cap on the whole
 * document, the profile row stays far inside the 2 MB a value may hold, whatever the attributes
 * (250 custom ones of 25 items of 300 characters, tombstones without bound).
 */
export const INLINE_ENTRY_MAX = 4 * 1024;
export const INLINE_DOC_MAX = 512 * 1024;

type AttributeRow = {
  name: string;
  type: string | null;
  value: string | null;
  updated_at: string;
  source: string;
  elements: string | null;
};

/** An attribute in the profile row's document, keyed by its name: type, value, time, source, item times. */
type Entry = [string | null, StoredAttribute["value"], string, Source, ElementClock?];

/** Objects created before array items had times lack their column: adds it (to a table they hold). */
export function upgradeAttributes(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(attributes)").toArray();
  if (columns.length && !columns.some((c) => c.name === "elements")) {
    sql.exec("ALTER TABLE attributes ADD COLUMN elements TEXT");
  }
}

/**
 * A profile's attributes as stored, tombstones (`value` null) included: most in one JSON
 * document in the profile row (`profiles.attributes`), so a write of any number of them is the
 * one row the call writes anyway, each entry keeping its own time, source and item times; the
 * others in rows of their own (`attributes`): those written before the document existed, read
 * where they are and moved into it when next written, and those too large for it. A name is in
 * one place only: a write into the document deletes its row, a move out drops its entry.
 *
 * Keeps what it read or wrote since the object started, so a busy object reconciles its writes
 * without reading them back. A removed profile drops its part, a rollback all of it (`forget`).
 */
export class AttributeTable {
  /** Each profile's document as last read or written. */
  private readonly docs = new Map<string, Map<string, StoredAttribute>>();
  /** Rows read, by profile and name (null: none). */
  private readonly rows = new Map<string, Map<string, StoredAttribute | null>>();
  private readonly table: OnDemandTable;

  constructor(private readonly sql: SqlStorage) {
    this.table = new OnDemandTable(sql, "attributes", ATTRIBUTES_SCHEMA);
  }

  /** The profile's document (empty for a profile not held, or one whose attributes all have rows). */
  private doc(profileId: string): Map<string, StoredAttribute> {
    let doc = this.docs.get(profileId);
    if (!doc) {
      const text = this.sql
        .exec<{ attributes: string | null }>("SELECT attributes FROM profiles WHERE profile_id = ?", profileId)
        .toArray()[0]?.attributes;
      doc = text ? parseDoc(text) : new Map();
      this.docs.set(profileId, doc);
    }
    return doc;
  }

  /** The stored attributes (tombstones included) among `names`, by name. */
  named(profileId: string, names: string[]): Map<string, StoredAttribute> {
    const doc = this.doc(profileId);
    let known = this.rows.get(profileId);
    if (!known) {
      known = new Map();
      this.rows.set(profileId, known);
    }
    const missing = [...new Set(names)].filter((name) => !doc.has(name) && !known.has(name));
    if (missing.length && this.table.exists) {
      const rows = this.sql
        .exec<AttributeRow>(
          `SELECT name, type, value, updated_at, source, elements FROM attributes
           WHERE profile_id = ? AND name IN (SELECT value FROM json_each(?))`,
          profileId,
          JSON.stringify(missing),
        )
        .toArray();
      for (const row of rows) known.set(row.name, fromRow(row));
    }
    for (const name of missing) if (!known.has(name)) known.set(name, null);
    const found = new Map<string, StoredAttribute>();
    for (const name of names) {
      const stored = doc.get(name) ?? known.get(name);
      if (stored) found.set(name, stored);
    }
    return found;
  }

  /** How many custom (not `$`) attributes hold a value. */
  customCount(profileId: string): number {
    let n = 0;
    for (const a of this.doc(profileId).values()) if (a.value !== null && !a.name.startsWith("$")) n++;
    if (!this.table.exists) return n;
    return (
      n +
      this.sql
        .exec<{ n: number }>(
          "SELECT count(*) AS n FROM attributes WHERE profile_id = ? AND value IS NOT NULL AND name NOT LIKE '$%'",
          profileId,
        )
        .one().n
    );
  }

  /**
   * Writes attributes: returns the profile's document for the caller to store in the profile row
   * (in the same transaction; null when nothing was written), and writes the rows of those that
   * do not fit in it, their values travelling as JSON parameters within the SQLite limits.
   */
  put(profileId: string, attributes: StoredAttribute[]): string | null {
    if (attributes.length === 0) return null;
    const doc = new Map(this.doc(profileId));
    const sizes = new Map<string, number>();
    const out = new Map<string, StoredAttribute>();
    for (const a of attributes) {
      const size = entryBytes(a);
      if (size > INLINE_ENTRY_MAX) {
        doc.delete(a.name);
        out.set(a.name, a);
      } else doc.set(a.name, a);
    }
    let total = 2;
    for (const a of doc.values()) {
      const size = entryBytes(a);
      sizes.set(a.name, size);
      total += size + 1;
    }
    // Over the cap: the largest entries move to rows of their own until the rest fits.
    if (total > INLINE_DOC_MAX) {
      for (const a of [...doc.values()].sort((x, y) => (sizes.get(y.name) ?? 0) - (sizes.get(x.name) ?? 0))) {
        if (total <= INLINE_DOC_MAX) break;
        total -= (sizes.get(a.name) ?? 0) + 1;
        doc.delete(a.name);
        out.set(a.name, a);
      }
    }
    const inlined = attributes.map((a) => a.name).filter((name) => doc.has(name));
    if (inlined.length && this.table.exists) {
      this.sql.exec(
        "DELETE FROM attributes WHERE profile_id = ? AND name IN (SELECT value FROM json_each(?))",
        profileId,
        JSON.stringify(inlined),
      );
    }
    if (out.size) this.writeRows(profileId, [...out.values()]);
    this.docs.set(profileId, doc);
    const known = this.rows.get(profileId);
    if (known) {
      for (const name of inlined) known.set(name, null);
      for (const a of out.values()) known.set(a.name, a);
    }
    return JSON.stringify(Object.fromEntries([...doc.values()].map((a) => [a.name, toEntry(a)])));
  }

  private writeRows(profileId: string, attributes: StoredAttribute[]): void {
    this.table.make();
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
  }

  list(profileId: string, withTombstones = false): StoredAttribute[] {
    const all = new Map(this.doc(profileId));
    if (this.table.exists) {
      const rows = this.sql
        .exec<AttributeRow>(
          "SELECT name, type, value, updated_at, source, elements FROM attributes WHERE profile_id = ?",
          profileId,
        )
        .toArray();
      for (const row of rows) if (!all.has(row.name)) all.set(row.name, fromRow(row));
    }
    return [...all.values()]
      .filter((a) => withTombstones || a.value !== null)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes a profile's rows; its document goes with its profile row. */
  remove(profileId: string): void {
    if (this.table.exists) this.sql.exec("DELETE FROM attributes WHERE profile_id = ?", profileId);
    this.docs.delete(profileId);
    this.rows.delete(profileId);
  }

  /** Whether the table exists, as the object's schema read it on waking (`OnDemandTable`). */
  assume(exists: boolean): void {
    this.table.assume(exists);
  }

  /** A rollback may have undone writes the cache holds, or the table's creation: forget all of it. */
  forget(): void {
    this.docs.clear();
    this.rows.clear();
    this.table.forget();
  }
}

/** Bytes of an entry in the document, UTF-8, with its quoted name. */
function entryBytes(a: StoredAttribute): number {
  return new TextEncoder().encode(`${JSON.stringify(a.name)}:${JSON.stringify(toEntry(a))}`).length;
}

function toEntry(a: StoredAttribute): Entry {
  const entry: Entry = [a.type, a.value, a.updatedAt, a.source];
  if (a.elements) entry.push(a.elements);
  return entry;
}

function parseDoc(text: string): Map<string, StoredAttribute> {
  const doc = new Map<string, StoredAttribute>();
  for (const [name, [type, value, updatedAt, source, elements]] of Object.entries(
    JSON.parse(text) as Record<string, Entry>,
  )) {
    doc.set(name, {
      name,
      type: type as StoredAttribute["type"],
      value,
      updatedAt,
      source,
      ...(elements && { elements }),
    });
  }
  return doc;
}

function fromRow(row: AttributeRow): StoredAttribute {
  return {
    name: row.name,
    type: row.type as StoredAttribute["type"],
    value: row.value === null ? null : (JSON.parse(row.value) as StoredAttribute["value"]),
    updatedAt: row.updated_at,
    source: row.source as Source,
    ...(row.elements && { elements: JSON.parse(row.elements) as ElementClock }),
  };
}
