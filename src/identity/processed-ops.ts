import { LIMITS } from "./attributes";
import { type CommitLog, forgetOpsOf } from "./commit-log";

/** An op ID applied here, and when: what idempotency remembers (SPEC §4). */
export interface ProcessedOp {
  opId: string;
  at: number;
}

/** Past this many IDs in the window, look-ups read the table rather than keep them all in memory. */
const MAX_KNOWN = 100_000;

/**
 * The op IDs an object applied within the 7-day idempotency window, kept in the rows of the
 * commit log (commit-log.ts) that applied them. `profile_id` says which profile an op wrote to,
 * so the IDs move with the profile at sign-in; null for ops that changed the installation (or
 * were forwarded to a custom ID). A commit adds them to its one row, whatever their number. The first look-up of the object's life reads the window once and keeps
 * the IDs in memory (reading the table on each look-up would read every ID of the window each
 * time; SQLite counts each JSON item read as a row read); a window past `MAX_KNOWN` IDs is read
 * on each look-up instead. Every write prunes (at most once a minute), whatever path it came by,
 * so the table holds at most about two windows' worth, and a steadily written object one (its
 * commits reuse the rows past the window: `CommitLog`).
 */
export class ProcessedOps {
  private prunedAt = 0;
  /** Op ID → when it was applied, for the whole table; null until read, or past `MAX_KNOWN`. */
  private known: Map<string, number> | null = null;
  private tooMany = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly log: CommitLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** Those of `opIds` applied here within the idempotency window. */
  among(opIds: string[]): Set<string> {
    if (opIds.length === 0) return new Set();
    const since = this.now() - LIMITS.idempotencyWindowMs;
    const known = this.load();
    if (known) return new Set(opIds.filter((id) => (known.get(id) ?? -1) >= since));
    const rows = this.sql
      .exec<{ op_id: string }>(
        `SELECT DISTINCT op.value AS op_id FROM commits, json_each(commits.ops) AS op
         WHERE commits.at >= ? AND op.value IN (SELECT value FROM json_each(?))`,
        since,
        JSON.stringify(opIds),
      )
      .toArray();
    const asked = new Set(opIds);
    const unwritten = this.log.unwritten().flatMap((o) => o.opIds.filter((id) => asked.has(id)));
    return new Set([...rows.map((r) => r.op_id), ...unwritten]);
  }

  /** Reads the window into memory once; null when it holds too many IDs for that. */
  private load(): Map<string, number> | null {
    if (this.known || this.tooMany) return this.known;
    const since = this.now() - LIMITS.idempotencyWindowMs;
    const { n } = this.sql
      .exec<{ n: number }>("SELECT coalesce(sum(json_array_length(ops)), 0) AS n FROM commits WHERE at >= ?", since)
      .one();
    if (n > MAX_KNOWN) {
      this.tooMany = true;
      return null;
    }
    const known = new Map<string, number>();
    const rows = this.sql.exec<{ at: number; ops: string }>(
      "SELECT at, ops FROM commits WHERE ops IS NOT NULL AND at >= ?",
      since,
    );
    for (const { at, ops } of [...rows, ...this.log.unwritten().map((o) => ({ at: o.at, ops: o.opIds }))]) {
      const ids = typeof ops === "string" ? (JSON.parse(ops) as string[]) : ops;
      for (const id of ids) known.set(id, Math.max(at, known.get(id) ?? at));
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

  /** Records op IDs as applied, in the row of the commit under way. */
  record(opIds: string[], profileId: string | null, at: number): void {
    if (opIds.length === 0) return;
    this.prune();
    this.log.applied({ opIds, profileId, at });
    if (this.known) for (const id of opIds) this.known.set(id, Math.max(at, this.known.get(id) ?? at));
  }

  mark(opId: string, profileId: string | null, at: number): void {
    this.record([opId], profileId, at);
  }

  /**
   * Deletes the rows of idempotency keys past the 7-day window of SPEC §4 by another window; at
   * most once a minute. A row past the window is forgotten by look-ups, and the next commit
   * takes its place (`CommitLog`): deleting it as soon as it expired would leave an object
   * written steadily nothing to reuse. Rows go up in time as they go up in number, so the
   * delete reads the old rows only: those before the first row newer than the cutoff (the few
   * written later with older times, a profile's IDs adopted at sign-in, wait for the rows
   * before them). A row whose messages are not sent yet waits for them.
   */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    const cutoff = now - 2 * LIMITS.idempotencyWindowMs;
    this.sql.exec(
      `DELETE FROM commits WHERE coalesce(messages, '') = '' AND seq < coalesce(
         (SELECT seq FROM commits WHERE at >= ? ORDER BY seq LIMIT 1), (SELECT max(seq) + 1 FROM commits))`,
      cutoff,
    );
    const expired = now - LIMITS.idempotencyWindowMs;
    if (this.known) for (const [id, at] of this.known) if (at < expired) this.known.delete(id);
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

  /** A profile's op IDs within the window (those past it are kept only for their rows' reuse). */
  ofProfile(profileId: string): ProcessedOp[] {
    const written = this.sql
      .exec<{ op_id: string; at: number }>(
        `SELECT op.value AS op_id, at FROM commits, json_each(commits.ops) AS op
         WHERE profile_id = ? AND at >= ?`,
        profileId,
        this.now() - LIMITS.idempotencyWindowMs,
      )
      .toArray()
      .map((r) => ({ opId: r.op_id, at: r.at }));
    const unwritten = this.log
      .unwritten()
      .filter((o) => o.profileId === profileId)
      .flatMap((o) => o.opIds.map((opId) => ({ opId, at: o.at })));
    return [...written, ...unwritten];
  }

  /** Forgets a profile's op IDs; the messages of their rows stay until they are sent. */
  remove(profileId: string): void {
    this.log.dropUnwritten(profileId);
    forgetOpsOf(this.sql, profileId);
    this.forget();
  }
}
