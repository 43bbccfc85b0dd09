import { LIMITS } from "./attributes";

export const PROCESSED_SCHEMA = `
CREATE TABLE IF NOT EXISTS processed (op_id TEXT PRIMARY KEY, profile_id TEXT, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS processed_by_time ON processed (at);
`;

/** An op ID applied here, and when: what idempotency remembers (SPEC §4). */
export interface ProcessedOp {
  opId: string;
  at: number;
}

/**
 * The op IDs an object applied within the 7-day idempotency window. `profile_id` says which
 * profile an op wrote to, so the IDs move with the profile at sign-in; null for ops that
 * changed the installation (or were forwarded to a custom ID). Every write prunes (at most
 * once a minute), whatever path it came by, so the table holds about a window's worth.
 */
export class ProcessedOps {
  private prunedAt = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {}

  /** Those of `opIds` applied here within the idempotency window. */
  among(opIds: string[]): Set<string> {
    if (opIds.length === 0) return new Set();
    const rows = this.sql
      .exec<{ op_id: string }>(
        "SELECT op_id FROM processed WHERE op_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  mark(opId: string, profileId: string | null, at: number): void {
    this.prune();
    this.sql.exec("INSERT OR IGNORE INTO processed (op_id, profile_id, at) VALUES (?, ?, ?)", opId, profileId, at);
  }

  /**
   * Records op IDs as applied in one statement; returns those it took, so an ID already applied
   * (within the idempotency window), or repeated in `opIds`, comes back once at most.
   */
  claim(opIds: string[], profileId: string | null, now: number): Set<string> {
    if (opIds.length === 0) return new Set();
    this.prune();
    const rows = this.sql
      .exec<{ op_id: string }>(
        "INSERT OR IGNORE INTO processed (op_id, profile_id, at) SELECT value, ?, ? FROM json_each(?) RETURNING op_id",
        profileId,
        now,
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  /** Gives back claimed IDs whose ops were refused: a retry may apply them. */
  release(opIds: string[]): void {
    if (opIds.length === 0) return;
    this.sql.exec("DELETE FROM processed WHERE op_id IN (SELECT value FROM json_each(?))", JSON.stringify(opIds));
  }

  /** Forgets idempotency keys older than the 7-day window of SPEC §4; at most once a minute. */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    this.sql.exec("DELETE FROM processed WHERE at < ?", now - LIMITS.idempotencyWindowMs);
  }

  ofProfile(profileId: string): ProcessedOp[] {
    return this.sql
      .exec<{ op_id: string; at: number }>("SELECT op_id, at FROM processed WHERE profile_id = ?", profileId)
      .toArray()
      .map((r) => ({ opId: r.op_id, at: r.at }));
  }

  remove(profileId: string): void {
    this.sql.exec("DELETE FROM processed WHERE profile_id = ?", profileId);
  }
}
