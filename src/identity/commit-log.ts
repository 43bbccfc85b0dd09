import { chunkBy, jsonBytes } from "../lib/chunk";
import type { ChangedSubject, QueueMessage } from "../queue/messages";
import { LIMITS } from "./attributes";
import { MAX_PIECE_BYTES } from "./json-pieces";
import { tableExists } from "./on-demand-table";
import type { OutboxEntry, OutboxQueue } from "./outbox-messages";

/**
 * One row per commit: the op IDs it applied (`ops`, with the profile they wrote to) and the
 * messages it owes the queues (`messages`, a JSON list of `[queue, dedupe, body]`; `''` once
 * sent, null for a commit that owed nothing). A row holding neither op IDs nor messages owed is
 * deleted. Rows are numbered in commit order, and every row before a sent one was sent too: a
 * waking object finds where sending stopped by reading back from the last row (`lastSent`).
 */
export const COMMITS_SCHEMA = `
CREATE TABLE IF NOT EXISTS commits (
  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, profile_id TEXT, ops TEXT, messages TEXT);
`;

type Message = Omit<OutboxEntry, "seq">;
type StoredMessage = [OutboxQueue, string | null, QueueMessage];
/** Op IDs applied to one profile (null: to the installation) at one time. */
export interface AppliedOps {
  opIds: string[];
  profileId: string | null;
  at: number;
}

/** Rows read at once by a flush: a bounded amount of memory, whatever the backlog. */
const READ_ROWS = 100;
const READ_BYTES = 4 * 1024 * 1024;
/** When no first row can be reused yet (none, or one owing messages), how long before looking again. */
const FIRST_ROW_RECHECK_MS = 60_000;

/** Forgets a profile's op IDs: rows that owe nothing go, the others keep their messages to send. */
export function forgetOpsOf(sql: SqlStorage, profileId: string): void {
  sql.exec("DELETE FROM commits WHERE profile_id = ? AND coalesce(messages, '') = ''", profileId);
  sql.exec("UPDATE commits SET profile_id = NULL, ops = NULL WHERE profile_id = ?", profileId);
}

/**
 * Objects from before kept applied op IDs (`processed_ops`, and before it `processed`, a row per
 * ID) and owed messages (`outbox`, and before it a row per message) in tables of their own:
 * their rows move here, op IDs first, messages in the order they were staged.
 */
export function upgradeCommitLog(sql: SqlStorage, now = Date.now()): void {
  if (tableExists(sql, "processed")) {
    sql.exec(`INSERT INTO commits (at, profile_id, ops)
      SELECT at, profile_id, json_group_array(op_id) FROM processed GROUP BY at, profile_id ORDER BY at`);
    sql.exec("DROP TABLE processed");
  }
  if (tableExists(sql, "processed_ops")) {
    sql.exec(`INSERT INTO commits (at, profile_id, ops)
      SELECT at, profile_id, ops FROM processed_ops ORDER BY at, seq`);
    sql.exec("DROP TABLE processed_ops");
  }
  if (tableExists(sql, "outbox")) {
    const perMessage = sql
      .exec<{ name: string }>("PRAGMA table_info(outbox)")
      .toArray()
      .some((c) => c.name === "queue");
    sql.exec(
      perMessage
        ? `INSERT INTO commits (at, messages)
           SELECT ?, json_array(json_array(queue, dedupe, json(body))) FROM outbox ORDER BY seq`
        : "INSERT INTO commits (at, messages) SELECT ?, body FROM outbox ORDER BY seq",
      now,
    );
    sql.exec("DROP TABLE outbox");
  }
}

/**
 * The commit log of a Durable Object: what each store transaction applied and what it owes
 * the queues, gathered while the transaction runs and written when it ends (`within`), so a
 * commit costs one row whatever it applied and announces. Sending (outbox.ts) sets a row's
 * messages to `''`; pruning the idempotency window (processed-ops.ts) deletes old rows. What
 * is written is kept in memory too, so the flush right after the write sends it without
 * reading it back. Store transactions do not nest.
 */
export class CommitLog {
  private staged: OutboxEntry[] = [];
  private stagedValid = true;
  /** Messages of the transaction under way. */
  private pending: Message[] = [];
  /** Op IDs applied by the transaction under way. */
  private pendingOps: AppliedOps[] = [];
  private depth = 0;
  /** The next row number; rows only ever go up, so "sent up to n" stays true of every row up to n. */
  private nextSeq: number | undefined;
  /** Until when the first row cannot be reused (see `reusable`); undefined: read it. */
  private firstKeptUntil: number | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Adds a message to the transaction under way (written on its own outside one). A repeated
   * key replaces the message staged with it in the same transaction.
   */
  stage(queue: OutboxQueue, dedupe: string | null, body: QueueMessage): void {
    if (dedupe !== null) this.pending = this.pending.filter((e) => e.dedupe !== dedupe);
    this.pending.push({ queue, dedupe, body, bytes: jsonBytes(body) });
    if (this.depth === 0) this.write();
  }

  /**
   * Says the projection must re-read this profile or installation. One message per subject and
   * commit, and one per subject sent at once (`latestOnly`): the consumer reads the current state.
   */
  changed(message: ChangedSubject): void {
    const key = message.type === "profile_changed" ? `p:${message.profile_id}` : `i:${message.installation_id}`;
    this.stage("projection", key, message);
  }

  /** Adds applied op IDs to the transaction under way (written on their own outside one). */
  applied(ops: AppliedOps): void {
    if (ops.opIds.length === 0) return;
    this.pendingOps.push(ops);
    if (this.depth === 0) this.write();
  }

  /** The op IDs of the transaction under way, not written yet. */
  unwritten(): readonly AppliedOps[] {
    return this.pendingOps;
  }

  /** Drops a profile's op IDs from the transaction under way (its written ones: `ProcessedOps.remove`). */
  dropUnwritten(profileId: string): void {
    this.pendingOps = this.pendingOps.filter((o) => o.profileId !== profileId);
  }

  /** Runs `fn` as the body of a store transaction; what it staged is written when it returns. */
  within<T>(fn: () => T): T {
    this.depth++;
    try {
      const result = fn();
      if (this.depth === 1) this.write();
      return result;
    } finally {
      this.depth--;
    }
  }

  /**
   * Writes what the transaction staged: one row, holding its op IDs and its messages (more
   * only for op IDs of several profiles or times, or past 1 MB), kept in memory too.
   */
  private write(): void {
    const messages = this.pending;
    const applied = this.pendingOps;
    this.pending = [];
    this.pendingOps = [];
    if (messages.length === 0 && applied.length === 0) return;
    const opRows = applied.flatMap((a) =>
      chunkBy(a.opIds, Number.POSITIVE_INFINITY, MAX_PIECE_BYTES).map((ids) => {
        const ops = JSON.stringify(ids);
        return { at: a.at, profileId: a.profileId, ops, bytes: ops.length * 3 };
      }),
    );
    const messagePieces = chunkBy(messages, Number.POSITIVE_INFINITY, MAX_PIECE_BYTES, (m) => m.bytes);
    if (this.nextSeq === undefined) {
      this.nextSeq = this.sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM commits").one().seq + 1;
      // No row yet: none to reuse for a while (a new object reads nothing more).
      if (this.nextSeq === 1) this.firstKeptUntil = this.now() + FIRST_ROW_RECHECK_MS;
    }
    const rows = Math.max(opRows.length, messagePieces.length);
    for (let k = 0; k < rows; k++) {
      const op = opRows[k];
      const piece = messagePieces[k];
      const pieceBytes = piece?.reduce((sum, m) => sum + m.bytes, 0) ?? 0;
      // A row stays within one piece's size: op IDs and messages too large together take a row each.
      if (op && piece && op.bytes + pieceBytes > MAX_PIECE_BYTES) {
        this.insert(op, undefined);
        this.insert(undefined, piece);
      } else {
        this.insert(op, piece);
      }
    }
  }

  /**
   * Writes a commit's row. When the first row is past the idempotency window and owes nothing,
   * the new row takes its place (renumbered last): one row written, where an insert now and the
   * prune's delete later are two. An object written steadily for more than the window then
   * writes no more rows than it did in its first week.
   */
  private insert(op: { at: number; profileId: string | null; ops: string } | undefined, piece?: Message[]): void {
    const seq = this.nextSeq ?? 1;
    this.nextSeq = seq + 1;
    const stored: StoredMessage[] | null = piece ? piece.map((m) => [m.queue, m.dedupe, m.body]) : null;
    const values = [
      seq,
      op?.at ?? this.now(),
      op?.profileId ?? null,
      op?.ops ?? null,
      stored ? JSON.stringify(stored) : null,
    ];
    const reused = this.reusable();
    if (reused === null) {
      this.sql.exec("INSERT INTO commits (seq, at, profile_id, ops, messages) VALUES (?, ?, ?, ?, ?)", ...values);
    } else {
      this.sql.exec(
        "UPDATE commits SET seq = ?, at = ?, profile_id = ?, ops = ?, messages = ? WHERE seq = ?",
        ...values,
        reused,
      );
    }
    for (const m of piece ?? []) this.staged.push({ seq, ...m });
  }

  /**
   * The first row's number when it can be reused: past the idempotency window, its messages
   * sent or none. One row read, and none while the first row read is still within the window.
   */
  private reusable(): number | null {
    const now = this.now();
    if (this.firstKeptUntil !== undefined && now < this.firstKeptUntil) return null;
    const first = this.sql
      .exec<{ seq: number; at: number; owes: number }>(
        "SELECT seq, at, coalesce(messages, '') <> '' AS owes FROM commits ORDER BY seq LIMIT 1",
      )
      .toArray()[0];
    const until = first ? first.at + LIMITS.idempotencyWindowMs : Number.POSITIVE_INFINITY;
    // Past the window, strictly: at its last millisecond a look-up still counts the row's IDs.
    if (first && now > until && !first.owes) {
      // The next row may be as old: read it at the next commit.
      this.firstKeptUntil = undefined;
      return first.seq;
    }
    // A row owing messages waits for them to go; a new object's first row comes later.
    this.firstKeptUntil = first && !first.owes ? until : now + FIRST_ROW_RECHECK_MS;
    return null;
  }

  /**
   * The unsent messages of the rows numbered after `after`, oldest first, a bounded number of
   * rows; `end` when they reach the last row.
   */
  rows(after: number): { entries: OutboxEntry[]; end: boolean } {
    const cursor = this.sql.exec<{ seq: number; messages: string }>(
      "SELECT seq, messages FROM commits WHERE seq > ? AND messages <> '' ORDER BY seq LIMIT ?",
      after,
      READ_ROWS,
    );
    const entries: OutboxEntry[] = [];
    let read = 0;
    let size = 0;
    for (const r of cursor) {
      read++;
      size += r.messages.length;
      for (const [queue, dedupe, body] of JSON.parse(r.messages) as StoredMessage[]) {
        entries.push({ seq: r.seq, queue, dedupe, body, bytes: jsonBytes(body) });
      }
      if (size >= READ_BYTES) return { entries, end: false };
    }
    return { entries, end: read < READ_ROWS };
  }

  /**
   * Forgets the messages of the rows numbered after `from` up to `upTo`: they were sent. A row
   * keeps its op IDs for the idempotency window, its messages `''`; one without is deleted.
   */
  ack(from: number, upTo: number): void {
    this.sql.exec(
      "UPDATE commits SET messages = '' WHERE seq > ? AND seq <= ? AND messages <> '' AND ops IS NOT NULL",
      from,
      upTo,
    );
    this.sql.exec("DELETE FROM commits WHERE seq > ? AND seq <= ? AND ops IS NULL", from, upTo);
  }

  /**
   * The number of the last row whose messages were sent (0 when none is kept): every row up to
   * it went out. Reads back from the last row, so a waking object reads what it wrote since its
   * last send, not the whole idempotency window.
   */
  lastSent(): number {
    const row = this.sql
      .exec<{ seq: number }>("SELECT seq FROM commits WHERE messages = '' ORDER BY seq DESC LIMIT 1")
      .toArray()[0];
    return row?.seq ?? 0;
  }

  /**
   * The messages written since the last call, in order; null when a rolled-back transaction may
   * have left the memory and the table apart, and only the table can say.
   */
  takeStaged(): OutboxEntry[] | null {
    const staged = this.staged;
    this.staged = [];
    if (!this.stagedValid) {
      this.stagedValid = true;
      return null;
    }
    return staged;
  }

  /** Whether rows were written since the last `takeStaged`. */
  hasStaged(): boolean {
    return this.staged.length > 0 || !this.stagedValid;
  }

  /** A rollback voids what was staged in memory. */
  rolledBack(): void {
    this.firstKeptUntil = undefined;
    this.pending = [];
    this.pendingOps = [];
    this.staged = [];
    this.stagedValid = false;
  }
}
