import type { ProjectionMessage, QueueMessage } from "../queue/messages";

export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, dedupe TEXT UNIQUE, body TEXT NOT NULL);
`;

export type OutboxQueue = "events" | "projection";

/** A message waiting in the outbox; `bytes` is its JSON size, for sending in batches. */
export interface OutboxEntry {
  seq: number;
  queue: OutboxQueue;
  dedupe: string | null;
  body: QueueMessage;
  bytes: number;
}

const encoder = new TextEncoder();

/**
 * The messages an object owes its queues, written in the same transaction as the change they
 * announce. What is staged is kept in memory too, so the flush right after the write sends it
 * without reading it back; `Outbox` (outbox.ts) sends them.
 */
export class OutboxTable {
  private staged: OutboxEntry[] = [];
  private stagedValid = true;

  constructor(private readonly sql: SqlStorage) {}

  /** Writes an outbox row and keeps it in memory. A repeated key replaces the pending entry. */
  stage(queue: OutboxQueue, dedupe: string | null, body: QueueMessage): void {
    const text = JSON.stringify(body);
    const { seq } = this.sql
      .exec<{ seq: number }>(
        "INSERT OR REPLACE INTO outbox (queue, dedupe, body) VALUES (?, ?, ?) RETURNING seq",
        queue,
        dedupe,
        text,
      )
      .one();
    if (dedupe !== null) this.staged = this.staged.filter((e) => e.dedupe !== dedupe);
    this.staged.push({ seq, queue, dedupe, body, bytes: encoder.encode(text).byteLength });
  }

  /**
   * Says the projection must re-read this profile or installation. One pending message per
   * subject: the consumer reads the current state, so later changes ride on the same message.
   * REPLACE gives the row a new sequence number, so a flush already sending the old row does
   * not acknowledge this newer change with it.
   */
  changed(message: ProjectionMessage): void {
    const key = message.type === "profile_changed" ? `p:${message.profile_id}` : `i:${message.installation_id}`;
    this.stage("projection", key, message);
  }

  /** The rows numbered after `after`, oldest first. */
  rows(after: number, limit: number): OutboxEntry[] {
    return this.sql
      .exec<{ seq: number; queue: string; dedupe: string | null; body: string }>(
        "SELECT seq, queue, dedupe, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        after,
        limit,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        queue: r.queue as OutboxQueue,
        dedupe: r.dedupe,
        body: JSON.parse(r.body) as QueueMessage,
        bytes: encoder.encode(r.body).byteLength,
      }));
  }

  /** Forgets the rows numbered up to `upTo`: they were sent. */
  ack(upTo: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", upTo);
  }

  /**
   * The rows staged since the last call, in order; null when a rolled-back transaction may have
   * left the memory and the table apart, and only the table can say.
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

  /** Whether rows were staged since the last `takeStaged`. */
  hasStaged(): boolean {
    return this.staged.length > 0 || !this.stagedValid;
  }

  /** A rollback voids what was staged in memory. */
  rolledBack(): void {
    this.staged = [];
    this.stagedValid = false;
  }
}
