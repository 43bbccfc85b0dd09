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

/** Past this many IDs in the window, look-ups read the table rather than keep them all in memory. */
const MAX_KNOWN = 100_000;

/**
 * The op IDs an object applied within the 7-day idempotency window. `profile_id` says which
 * profile an op wrote to, so the IDs move with the profile at sign-in; null for ops that
 * changed the installation (or were forwarded to a custom ID). A write adds one row, whatever
 * the number of its ops. The first look-up of the object's life reads the window once and keeps
 * the IDs in memory (reading the table on each look-up would read every ID of the window each
 * time; SQLite counts each JSON item read as a row read); a window past `MAX_KNOWN` IDs is read
 * on each look-up instead. Every write prunes (at most once a minute), whatever path it came by,
 * so the table holds about a window's worth.
 */
export class ProcessedOps {
  private prunedAt = 0;
  /** Op ID → when it was applied, for the whole table; null until read, or past `MAX_KNOWN`. */
  private known: Map<string, number> | null = null;
  private tooMany = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {}

  /** Those of `opIds` applied here within the idempotency window. */
  among(opIds: string[]): Set<string> {
    if (opIds.length === 0) return new Set();
    const known = this.load();
    if (known) {
      const since = this.now() - LIMITS.idempotencyWindowMs;
      return new Set(opIds.filter((id) => (known.get(id) ?? -1) >= since));
    }
    const rows = this.sql
      .exec<{ op_id: string }>(
        `SELECT DISTINCT op.value AS op_id FROM processed_ops, json_each(processed_ops.ops) AS op
         WHERE op.value IN (SELECT value FROM json_each(?))`,
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  /** Reads the window into memory once; null when it holds too many IDs for that. */
  private load(): Map<string, number> | null {
    if (this.known || this.tooMany) return this.known;
    const { n } = this.sql
      .exec<{ n: number }>("SELECT coalesce(sum(json_array_length(ops)), 0) AS n FROM processed_ops")
      .one();
    if (n > MAX_KNOWN) {
      this.tooMany = true;
      return null;
    }
    const known = new Map<string, number>();
    for (const row of this.sql.exec<{ at: number; ops: string }>("SELECT at, ops FROM processed_ops")) {
      for (const id of JSON.parse(row.ops) as string[]) known.set(id, Math.max(row.at, known.get(id) ?? row.at));
    }
    this.known = known;
    return known;
  }

  /** A rollback may have undone writes the memory holds, a removal took IDs away: read again. */
  forget(): void {
    this.known = null;
    this.tooMany = false;
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
    if (this.known) for (const id of opIds) this.known.set(id, Math.max(at, this.known.get(id) ?? at));
  }

  mark(opId: string, profileId: string | null, at: number): void {
    this.record([opId], profileId, at);
  }

  /** Forgets idempotency keys older than the 7-day window of SPEC §4; at most once a minute. */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    const cutoff = now - LIMITS.idempotencyWindowMs;
    this.sql.exec("DELETE FROM processed_ops WHERE at < ?", cutoff);
    if (this.known) for (const [id, at] of this.known) if (at < cutoff) this.known.delete(id);
    this.tooMany = false;
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
    this.forget();
  }
}
