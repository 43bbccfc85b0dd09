import { LIMITS } from "./attributes";
import { jsonPieces } from "./json-pieces";

/**
 * One row per write: the op IDs it applied, as a JSON list. Keyed by time, so pruning is a range
 * delete and no second index is paid for on every write (each index entry is a billed row).
 */
export const PROCESSED_SCHEMA = `
CREATE TABLE IF NOT EXISTS processed_ops (
  at INTEGER NOT NULL, seq INTEGER NOT NULL, profile_id TEXT, ops TEXT NOT NULL, PRIMARY KEY (at, seq)) WITHOUT ROWID;
`;

/** An op ID applied here, and when: what idempotency remembers (SPEC §4). */
export interface ProcessedOp {
  opId: string;
  at: number;
}

/** Objects from before kept one row per op ID (and an index on its time): one row per time instead. */
export function upgradeProcessed(sql: SqlStorage): void {
  const old = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'processed'").toArray();
  if (old.length === 0) return;
  const groups = sql
    .exec<{ at: number; profile_id: string | null; ops: string }>(
      "SELECT at, profile_id, json_group_array(op_id) AS ops FROM processed GROUP BY at, profile_id",
    )
    .toArray();
  const table = new ProcessedOps(sql);
  for (const g of groups) table.record(JSON.parse(g.ops) as string[], g.profile_id, g.at);
  sql.exec("DROP TABLE processed");
}

/**
 * The op IDs an object applied within the 7-day idempotency window. `profile_id` says which
 * profile an op wrote to, so the IDs move with the profile at sign-in; null for ops that
 * changed the installation (or were forwarded to a custom ID). A look-up reads every row of
 * the window (rows read cost a thousandth of rows written); a write adds one row, whatever the
 * number of its ops. Every write prunes (at most once a minute), whatever path it came by, so
 * the table holds about a window's worth.
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
        `SELECT DISTINCT op.value AS op_id FROM processed_ops, json_each(processed_ops.ops) AS op
         WHERE op.value IN (SELECT value FROM json_each(?))`,
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  /**
   * Those of `opIds` not applied here yet, each once: the duplicate check, which writes
   * nothing. `record` the ones that applied, in the same transaction.
   */
  unseen(opIds: string[]): Set<string> {
    const seen = this.among(opIds);
    return new Set(opIds.filter((id) => !seen.has(id)));
  }

  /** Records op IDs as applied, in one row (more only past 1 MB of IDs). */
  record(opIds: string[], profileId: string | null, at: number): void {
    if (opIds.length === 0) return;
    this.prune();
    for (const piece of jsonPieces(opIds)) {
      this.sql.exec(
        `INSERT INTO processed_ops (at, seq, profile_id, ops)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM processed_ops WHERE at = ?1), ?2, ?3)`,
        at,
        profileId,
        piece,
      );
    }
  }

  mark(opId: string, profileId: string | null, at: number): void {
    this.record([opId], profileId, at);
  }

  /** Forgets idempotency keys older than the 7-day window of SPEC §4; at most once a minute. */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    this.sql.exec("DELETE FROM processed_ops WHERE at < ?", now - LIMITS.idempotencyWindowMs);
  }

  /** Takes in the op IDs of a profile adopted here, with the times they were applied. */
  adopt(profileId: string, ops: ProcessedOp[]): void {
    for (const [at, group] of Map.groupBy(ops, (op) => op.at)) {
      this.record(
        group.map((op) => op.opId),
        profileId,
        at,
      );
    }
  }

  ofProfile(profileId: string): ProcessedOp[] {
    return this.sql
      .exec<{ op_id: string; at: number }>(
        `SELECT op.value AS op_id, at FROM processed_ops, json_each(processed_ops.ops) AS op
         WHERE profile_id = ?`,
        profileId,
      )
      .toArray()
      .map((r) => ({ opId: r.op_id, at: r.at }));
  }

  remove(profileId: string): void {
    this.sql.exec("DELETE FROM processed_ops WHERE profile_id = ?", profileId);
  }
}
