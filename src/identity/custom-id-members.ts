import { hourOf } from "../lib/time";
import type { Binding } from "./transitions";

/**
 * The installations attached to a custom ID's profile. `seen_at` is when the installation last
 * attached or wrote through this custom ID, to the hour (the first write of each hour is kept):
 * the view and a send to the custom ID take the most recent first.
 */
export const MEMBERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS members (installation_id TEXT PRIMARY KEY, attached_at TEXT NOT NULL, seen_at TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_seen ON members (seen_at);
`;

/** Installations the debug view describes, most recently seen first; it counts the others. */
export const VIEW_INSTALLATIONS = 20;
/** How many installation objects the view calls at once. */
export const VIEW_CONCURRENCY = 5;

export interface Member {
  installationId: string;
  /** Which attachment this is: a prune names it, so a newer attachment of the same installation stays. */
  attachedAt: string;
}

export interface MemberPage {
  members: Member[];
  /** Members not in `members`. */
  more: number;
}

/**
 * Whether a member listed on `customId` has moved on: its object holds nothing (it was freed),
 * or, with no transition under way, it is bound elsewhere. While a transition is under way the
 * binding may not have caught up with an attachment already recorded here.
 */
export function hasMovedOn(
  customId: string,
  described: { binding: Binding; transitionPending: boolean } | null,
): boolean {
  if (!described) return true;
  return !described.transitionPending && described.binding.customId !== customId;
}

/** Objects made before `seen_at` get the column, filled from `attached_at`, then its index. */
export function upgradeMembers(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(members)").toArray();
  if (!columns.some((c) => c.name === "seen_at")) {
    sql.exec("ALTER TABLE members ADD COLUMN seen_at TEXT");
    sql.exec("UPDATE members SET seen_at = attached_at");
  }
  sql.exec("CREATE INDEX IF NOT EXISTS members_by_seen ON members (seen_at)");
}

/** The members table of a custom ID object; synchronous, called inside its transactions. */
export class Members {
  /** The hour each installation was last recorded as seen, so a busy one writes once an hour. */
  private readonly seenHour = new Map<string, string>();

  constructor(
    private readonly sql: SqlStorage,
    /** Whether the table exists: it is made by the first attachment (call `attach` after it is). */
    private readonly present: () => boolean,
  ) {}

  attach(installationId: string, time: string): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO members (installation_id, attached_at, seen_at) VALUES (?, ?, ?)",
      installationId,
      time,
      time,
    );
    this.seenHour.set(installationId, hourOf(time));
  }

  /** Removes a member; whether it was one. */
  detach(installationId: string): boolean {
    this.seenHour.delete(installationId);
    if (!this.present()) return false;
    return this.sql.exec("DELETE FROM members WHERE installation_id = ?", installationId).rowsWritten > 0;
  }

  /**
   * Records that a member wrote at `time`; at most one write an hour per installation, not one
   * a minute: every batch of a signed-in device in a new minute paid 2 rows, the row and its
   * index entry (docs/decisions.md, "A member's last visit is kept to the hour").
   */
  seen(installationId: string, time: string): void {
    const hour = hourOf(time);
    if ((this.seenHour.get(installationId) ?? "") >= hour || !this.present()) return;
    this.sql.exec(
      "UPDATE members SET seen_at = ? WHERE installation_id = ? AND (seen_at IS NULL OR substr(seen_at, 1, 13) < ?)",
      time,
      installationId,
      hour,
    );
    this.seenHour.set(installationId, hour);
  }

  /** A rolled-back transaction may have undone visits recorded in memory. */
  forget(): void {
    this.seenHour.clear();
  }

  /** The `limit` most recently seen members, and how many others there are. */
  page(limit: number): MemberPage {
    if (!this.present()) return { members: [], more: 0 };
    const members = this.sql
      .exec<{ installation_id: string; attached_at: string }>(
        "SELECT installation_id, attached_at FROM members ORDER BY seen_at DESC, installation_id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({ installationId: r.installation_id, attachedAt: r.attached_at }));
    const { n } = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members").one();
    return { members, more: n - members.length };
  }

  /** Removes members found to have moved on, unless they attached again since they were read. */
  prune(stale: Member[]): number {
    if (!this.present()) return 0;
    let removed = 0;
    for (const m of stale) {
      removed += this.sql.exec(
        "DELETE FROM members WHERE installation_id = ? AND attached_at = ?",
        m.installationId,
        m.attachedAt,
      ).rowsWritten;
      this.seenHour.delete(m.installationId);
    }
    return removed;
  }
}
