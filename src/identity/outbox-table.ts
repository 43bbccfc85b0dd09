import { chunkBy, jsonBytes } from "../lib/chunk";
import type {
  EventBundle,
  EventQueueItem,
  InstallationAndProfileChanged,
  ProjectionMessage,
  QueueMessage,
} from "../queue/messages";
import { MAX_PIECE_BYTES } from "./json-pieces";

/** One row per commit: the messages it owes the queues, as a JSON list of `[queue, dedupe, body]`. */
export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
`;

export type OutboxQueue = "events" | "projection";

/** A message waiting in the outbox, under the number of its row; `bytes` is its JSON size, for sending in batches. */
export interface OutboxEntry {
  seq: number;
  queue: OutboxQueue;
  dedupe: string | null;
  body: QueueMessage;
  bytes: number;
}

type Message = Omit<OutboxEntry, "seq">;
type StoredMessage = [OutboxQueue, string | null, QueueMessage];

/** Rows read at once by a flush: a bounded amount of memory, whatever the backlog. */
const READ_ROWS = 100;
const READ_BYTES = 4 * 1024 * 1024;

/**
 * Objects from before kept a row per message (with a unique key and an AUTOINCREMENT counter,
 * three rows written each): what they still owe moves to the one-row-per-commit table.
 */
export function upgradeOutbox(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("PRAGMA table_info(outbox)").toArray();
  if (!columns.some((c) => c.name === "queue")) return;
  const owed = sql
    .exec<{ queue: OutboxQueue; dedupe: string | null; body: string }>(
      "SELECT queue, dedupe, body FROM outbox ORDER BY seq",
    )
    .toArray();
  sql.exec("DROP TABLE outbox");
  sql.exec(OUTBOX_SCHEMA);
  const table = new OutboxTable(sql);
  for (const r of owed) table.stage(r.queue, r.dedupe, JSON.parse(r.body) as QueueMessage);
}

/** The last message of each subject, in order: the projection consumer reads the current state. */
export function latestOnly(entries: OutboxEntry[]): OutboxEntry[] {
  const last = new Map<string, number>();
  entries.forEach((e, k) => {
    if (e.dedupe !== null) last.set(e.dedupe, k);
  });
  return entries.filter((e, k) => e.dedupe === null || last.get(e.dedupe) === k);
}

/**
 * Projection messages as they go out: an installation's change and one of a profile its object
 * holds become one message (one queue message, not two). Paired when sent, after `latestOnly`,
 * so no later message of either subject can replace half of the pair.
 */
export function paired(entries: OutboxEntry[]): OutboxEntry[] {
  const installation = entries.findIndex((e) => e.body.type === "installation_changed");
  const target = entries[installation]?.body;
  if (target?.type !== "installation_changed") return entries;
  const profile = entries.findIndex(
    (e) =>
      e.body.type === "profile_changed" &&
      e.body.holder?.kind === "installation" &&
      e.body.holder.id === target.installation_id,
  );
  const held = entries[profile]?.body;
  if (held?.type !== "profile_changed") return entries;
  const body: InstallationAndProfileChanged = {
    type: "installation_and_profile_changed",
    project_id: target.project_id,
    installation_id: target.installation_id,
    profile_id: held.profile_id,
  };
  const pair = { ...(entries[installation] as OutboxEntry), body, bytes: jsonBytes(body) };
  return entries.flatMap((e, k) => (k === installation ? [pair] : k === profile ? [] : [e]));
}

/** A queue message carries at most 128 KB: a bundle stays well under it. */
const MAX_BUNDLE_BYTES = 100 * 1024;

const isEventQueueItem = (e: OutboxEntry): e is OutboxEntry & { body: EventQueueItem } =>
  e.body.type === "events" || e.body.type === "identity";

/**
 * Event queue messages as they go out: those of one flush in as few messages as fit, each
 * group of two or more as one bundle (first contact: its events and its "created", one queue
 * message rather than two). Bundled at send time, as `paired` is: what is stored stays one
 * message each, so a retry bundles again from the rows. Anything else goes as it is.
 */
export function bundled(entries: OutboxEntry[]): OutboxEntry[] {
  const items = entries.filter(isEventQueueItem);
  const bundles = chunkBy(items, Number.POSITIVE_INFINITY, MAX_BUNDLE_BYTES, (e) => e.bytes).map((group) => {
    const last = group[group.length - 1] as OutboxEntry;
    if (group.length === 1) return last;
    const body: EventBundle = { type: "bundle", messages: group.map((e) => e.body) };
    return { ...last, body, bytes: jsonBytes(body) };
  });
  return [...entries.filter((e) => !isEventQueueItem(e)), ...bundles];
}

/**
 * The messages an object owes its queues, written in the same transaction as the change they
 * announce: gathered while the transaction runs and written as one row when it ends (`within`),
 * so a call costs one outbox row whatever it announces. What is written is kept in memory too,
 * so the flush right after the write sends it without reading it back; `Outbox` (outbox.ts)
 * sends them. Store transactions do not nest.
 */
export class OutboxTable {
  private staged: OutboxEntry[] = [];
  private stagedValid = true;
  /** Messages of the transaction under way. */
  private pending: Message[] = [];
  private depth = 0;
  /** The next row number; rows only ever go up, so "sent up to n" stays true of every row up to n. */
  private nextSeq: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

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
  changed(message: Exclude<ProjectionMessage, InstallationAndProfileChanged>): void {
    const key = message.type === "profile_changed" ? `p:${message.profile_id}` : `i:${message.installation_id}`;
    this.stage("projection", key, message);
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

  /** Writes what the transaction staged: one row (more only past 1 MB), kept in memory too. */
  private write(): void {
    const messages = this.pending;
    this.pending = [];
    if (messages.length === 0) return;
    this.nextSeq ??= this.sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM outbox").one().seq + 1;
    for (const piece of chunkBy(messages, Number.POSITIVE_INFINITY, MAX_PIECE_BYTES, (m) => m.bytes)) {
      const seq = this.nextSeq++;
      const stored: StoredMessage[] = piece.map((m) => [m.queue, m.dedupe, m.body]);
      this.sql.exec("INSERT INTO outbox (seq, body) VALUES (?, ?)", seq, JSON.stringify(stored));
      for (const m of piece) this.staged.push({ seq, ...m });
    }
  }

  /**
   * The messages of the rows numbered after `after`, oldest first, a bounded number of rows;
   * `end` when they reach the last row.
   */
  rows(after: number): { entries: OutboxEntry[]; end: boolean } {
    const cursor = this.sql.exec<{ seq: number; body: string }>(
      "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
      after,
      READ_ROWS,
    );
    const entries: OutboxEntry[] = [];
    let read = 0;
    let size = 0;
    for (const r of cursor) {
      read++;
      size += r.body.length;
      for (const [queue, dedupe, body] of JSON.parse(r.body) as StoredMessage[]) {
        entries.push({ seq: r.seq, queue, dedupe, body, bytes: jsonBytes(body) });
      }
      if (size >= READ_BYTES) return { entries, end: false };
    }
    return { entries, end: read < READ_ROWS };
  }

  /** Forgets the rows numbered up to `upTo`: they were sent. */
  ack(upTo: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", upTo);
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
    this.pending = [];
    this.staged = [];
    this.stagedValid = false;
  }
}
