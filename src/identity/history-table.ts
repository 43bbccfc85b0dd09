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

/** A profile's identity history (SPEC §5 `identity_history`), oldest first. */
export class HistoryTable {
  /**
   * The next number, read once after a wake (or a rollback): the highest number is found by
   * reading every entry, as the key starts with the profile, and a custom ID that many
   * installations log into would otherwise read its whole history for each login.
   */
  private next: number | null = null;

  constructor(private readonly sql: SqlStorage) {}

  append(profileId: string, entry: HistoryEntry): void {
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

  /** A rollback may have undone entries numbered meanwhile: read the number again. */
  forget(): void {
    this.next = null;
  }

  list(profileId: string): HistoryEntry[] {
    return this.sql
      .exec<Record<string, string | null>>(
        "SELECT time, kind, installation_id, custom_id, source, request_id FROM history WHERE profile_id = ? ORDER BY seq",
        profileId,
      )
      .toArray() as unknown as HistoryEntry[];
  }

  remove(profileId: string): void {
    this.sql.exec("DELETE FROM history WHERE profile_id = ?", profileId);
  }
}
