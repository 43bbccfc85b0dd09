import { ATTRIBUTES_SCHEMA, upgradeAttributes } from "./attribute-table";
import { COMMITS_SCHEMA, upgradeCommitLog } from "./commit-log";
import { EVENTS_SCHEMA, upgradeEvents } from "./event-table";
import { HISTORY_SCHEMA } from "./history-table";

/*
 * The tables of the profile store (profile-store.ts), and how an object written by an older
 * layout is brought up to this one.
 */

const PROFILE_ROWS_SCHEMA = `
CREATE TABLE IF NOT EXISTS profiles (
  profile_id TEXT PRIMARY KEY, custom_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
  last_activity_at TEXT NOT NULL, orphaned_at TEXT, version INTEGER NOT NULL DEFAULT 0,
  events_held INTEGER NOT NULL DEFAULT 0, attributes TEXT, origin TEXT, events TEXT) WITHOUT ROWID;
`;

/** The profile row's columns but its attributes document: what reads of the header need. */
export const PROFILE_COLUMNS =
  "profile_id, custom_id, state, created_at, last_activity_at, orphaned_at, version, events_held";

/**
 * Profile rows made before a profile's attributes, then its first history entry, then its most
 * recent events moved into them lack those columns: adds them (in that order, as a new row has them).
 */
function upgradeProfileRows(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(profiles)").toArray();
  if (!columns.length) return;
  for (const column of ["attributes", "origin", "events"]) {
    if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE profiles ADD COLUMN ${column} TEXT`);
  }
}

/** The tables of every object holding profiles. */
export const PROFILE_SCHEMA = PROFILE_ROWS_SCHEMA + ATTRIBUTES_SCHEMA + EVENTS_SCHEMA + HISTORY_SCHEMA + COMMITS_SCHEMA;

/**
 * Those tables by name, made together by an object's first write: every write touches most of
 * them, and the reads of this store need not ask first. `profiles` first: it says the object was
 * written. Not `attributes`: a profile's attributes live in its row, and that table is made only
 * for one too large for it (see `AttributeTable`). Nor `event_batches`: made by the first write of
 * events that does not fit in the profile row (see `EventTable.place`). Nor `history`: a profile's first entry, its creation, is kept in its row,
 * and the table is made by the next (see `HistoryTable`).
 */
export const PROFILE_TABLES = ["profiles", "commits"];

/** Brings the profile tables of an object written by an older layout up to this one. */
export function upgradeProfileTables(sql: SqlStorage): void {
  upgradeProfileRows(sql);
  upgradeAttributes(sql);
  upgradeEvents(sql);
  upgradeCommitLog(sql);
}
