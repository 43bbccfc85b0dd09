import { OnDemandTable } from "./on-demand-table";

/**
 * Keyed by profile, then by a number that only goes up across the object: a profile's entries
 * read in order without a second index. (Objects from before number them with AUTOINCREMENT and
 * keep an index on (profile_id, seq); the same statements serve both.)
 */
export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS history (
  profile_id TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
  installation_id TEXT, custom_id TEXT, source TEXT NOT NULL, request_id TEXT, PRIMARY KEY (profile_id, seq)) WITHOUT ROWID;
`;

export type HistoryKind =
  | "created"
  | "sign_in"
  | "login"
  | "logout"
  | "switch_user"
  | "orphaned"
  | "created_by_custom_id"
  /** An identify or logout that failed every attempt: the installation stayed or went anonymous. */
  | "transition_abandoned";

export interface HistoryEntry {
  time: string;
  kind: HistoryKind;
  installation_id: string | null;
  custom_id: string | null;
  source: "sdk" | "api";
  request_id: string | null;
}

/**
 * A profile's identity history (SPEC §5 `identity_history`), oldest first. Its first entry, the
 * profile's creation, is kept in the profile's row (`origin`, written with it), and the table
 * holds the entries after it: it is made by the first of them, so an installation that never
 * signs in, or a custom ID only ever updated, pays none of its rows. A profile carried to
 * another object (a sign-in) has its whole history in the table there.
 */
export class HistoryTable {
  /**
   * The next number, read once after a wake (or a rollback): the highest number is found by
   * reading every entry, as the key starts with the profile, and a custom ID that many
   * installations log into would otherwise read its whole history for each login.
   */
  private next: number | null = null;
  private readonly table: OnDemandTable;

  constructor(private readonly sql: SqlStorage) {
    this.table = new OnDemandTable(sql, "history", HISTORY_SCHEMA);
  }

  /** Whether the table exists, as the object's schema read it on waking (`OnDemandTable`). */
  assume(exists: boolean): void {
    this.table.assume(exists);
  }

  /** The profile row's `origin`: a profile's first entry, written with its row. */
  static origin(entry: HistoryEntry): string {
    return JSON.stringify(entry);
  }

  append(profileId: string, entry: HistoryEntry): void {
    this.table.make();
    this.next ??= this.sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM history").one().seq + 1;
    this.sql.exec(
      `INSERT INTO history (seq, profile_id, time, kind, installation_id, custom_id, source, request_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      this.next++,
      profileId,
      entry.time,
      entry.kind,
      entry.installation_id,
      entry.custom_id,
      entry.source,
      entry.request_id,
    );
  }

  /** A rollback may have undone entries numbered meanwhile, or the table itself: ask again. */
  forget(): void {
    this.next = null;
    this.table.forget();
  }

  list(profileId: string): HistoryEntry[] {
    const origin = this.sql
      .exec<{ origin: string | null }>("SELECT origin FROM profiles WHERE profile_id = ?", profileId)
      .toArray()[0]?.origin;
    const first = origin ? [JSON.parse(origin) as HistoryEntry] : [];
    if (!this.table.exists) return first;
    const rest = this.sql
      .exec<Record<string, string | null>>(
        "SELECT time, kind, installation_id, custom_id, source, request_id FROM history WHERE profile_id = ? ORDER BY seq",
        profileId,
      )
      .toArray() as unknown as HistoryEntry[];
    return [...first, ...rest];
  }

  /** The profile's entries in the table (its row, with the first, is the caller's to delete). */
  remove(profileId: string): void {
    if (this.table.exists) this.sql.exec("DELETE FROM history WHERE profile_id = ?", profileId);
  }
}
