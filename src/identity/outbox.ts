import { chunkBy } from "../lib/chunk";
import { SEND_BATCH_BYTES, SEND_BATCH_MESSAGES } from "../queue/send";
import type { AlarmClock } from "./alarm-clock";
import type { CommitLog } from "./commit-log";
import { bundled, carried, latestOnly, type OutboxEntry, type OutboxQueue, paired } from "./outbox-messages";

/** How long before the alarm retries what the immediate flush could not send. */
export const OUTBOX_RETRY_MS = 30_000;
/**
 * How long an object with nothing unsent waits for another write before it deletes what it
 * sent and lets its alarm go: about the time an idle object is kept in memory, so an object
 * written every few seconds keeps its alarm, and one written once does not wake for nothing.
 */
export const OUTBOX_QUIET_MS = 10_000;

/**
 * Sends what a Durable Object wrote to its outbox in the same transaction as the change,
 * so a message is never lost between "stored" and "published". At-least-once: the queue
 * consumers are idempotent. One flush runs at a time per object.
 *
 * The commit log's rows (commit-log.ts, one per commit, holding its messages) are numbered in
 * order, and "sent" is one number: every row up to it went out. Right after a write, the flush
 * sends the rows the store kept in memory; it reads the table instead when the memory may not
 * be the whole story (a fresh object, a failed send, a rollback, the alarm). Sent rows are
 * forgotten (their messages set to null, or the row deleted when it holds no op IDs) by the
 * object's next write, in the same commit (a commit of their own would cost a busy object about
 * a tenth of its throughput), or once the object is quiet, or by the alarm.
 *
 * The fallback alarm is armed by the commit that stages rows, unless one already fires within
 * `OUTBOX_RETRY_MS`, and kept when a send fails. Once everything is sent and the object has
 * had no write for `OUTBOX_QUIET_MS`, the sent rows are forgotten and the alarm is let go; an
 * object written more often keeps it, and if it fires first it forgets the sent rows, finds
 * nothing to send and arms nothing. Letting it go a second after each flush cost an object
 * written every few seconds a commit, a `deleteAlarm` and a `setAlarm` per call
 * (docs/decisions.md, "The outbox alarm").
 */
export class Outbox {
  #running: Promise<void> | null = null;
  #again = false;
  #sentUpTo = 0;
  #forgottenUpTo = 0;
  #quiet: ReturnType<typeof setTimeout> | null = null;
  /** When the last flush sent everything: the quiet delay counts from it. */
  #lastSent = 0;
  /** True while every row after `#sentUpTo` is one the store holds in memory. */
  #caughtUp = false;
  /** Whether `#sentUpTo` started from where the table says sending stopped, once in this instance's life. */
  #located = false;

  constructor(
    private readonly table: CommitLog,
    private readonly queues: Record<OutboxQueue, Queue>,
    private readonly clock: AlarmClock,
  ) {}

  /**
   * Arms the fallback alarm in the output gate of the commit that staged rows, so a crash
   * before they are sent leaves them an alarm. Call right after any commit that may have staged.
   */
  committed(): void {
    if (this.table.hasStaged()) this.clock.armBy(Date.now() + OUTBOX_RETRY_MS, "outbox");
  }

  /** Arms the fallback alarm (see `committed`), then sends in the background. */
  afterWrite(ctx: DurableObjectState): void {
    this.settle();
    if (!this.table.hasStaged()) return;
    this.committed();
    ctx.waitUntil(this.flush());
  }

  /** Forgets the rows already sent, as part of whatever the object is writing now. */
  settle(): void {
    if (this.#sentUpTo <= this.#forgottenUpTo) return;
    this.table.ack(this.#forgottenUpTo, this.#sentUpTo);
    this.#forgottenUpTo = this.#sentUpTo;
  }

  /** The alarm's pass: sends whatever is in the table, and forgets what went out. */
  async retry(): Promise<void> {
    this.settle();
    await this.flush({ fromTable: true });
    this.settle();
  }

  /** Sends what is pending; `fromTable` reads every unsent row rather than trusting memory. */
  flush({ fromTable = false } = {}): Promise<void> {
    if (fromTable) this.#caughtUp = false;
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** The next rows to send, oldest first; empty when none is left. */
  #next(): OutboxEntry[] {
    const staged = this.table.takeStaged();
    if (this.#caughtUp && staged !== null) return latestOnly(staged);
    if (!this.#located) {
      // A waking object reads the rows after its last send, not the whole window of op IDs.
      const sent = this.table.lastSent();
      this.#sentUpTo = Math.max(this.#sentUpTo, sent);
      this.#forgottenUpTo = Math.max(this.#forgottenUpTo, sent);
      this.#located = true;
    }
    const { entries, end } = this.table.rows(this.#sentUpTo);
    // Read to the end: from now on, what the store stages is all there is.
    if (end) this.#caughtUp = true;
    return latestOnly(entries);
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      for (;;) {
        const rows = this.#next();
        if (rows.length === 0) break;
        try {
          const of = (queue: OutboxQueue) => rows.filter((r) => r.queue === queue);
          const out = carried(bundled(of("events")), paired(of("projection")));
          await Promise.all(
            (["events", "projection"] as const).map(async (queue) => {
              // Sized by what the rows measured when staged (a message is at most ~70 KB, see
              // LIMITS.eventAttributeBytes), not measured again.
              for (const chunk of chunkBy(out[queue], SEND_BATCH_MESSAGES, SEND_BATCH_BYTES, (r) => r.bytes)) {
                await this.queues[queue].sendBatch(chunk.map((r) => ({ body: r.body, contentType: "json" as const })));
              }
            }),
          );
        } catch (error) {
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "outbox flush failed, retrying from the alarm",
              error: String(error),
            }),
          );
          this.#caughtUp = false;
          this.clock.armBy(Date.now() + OUTBOX_RETRY_MS, "outbox");
          return;
        }
        this.#sentUpTo = Math.max(this.#sentUpTo, ...rows.map((r) => r.seq));
      }
    } while (this.#again);
    this.#quietSoon();
  }

  /** Everything is sent: once the object stays quiet, forget what was sent and let the alarm go. */
  #quietSoon(): void {
    this.#lastSent = Date.now();
    // One timer at a time: a busy object moves a time forward rather than a timer.
    if (this.#quiet === null) this.#quietAfter(OUTBOX_QUIET_MS);
  }

  #quietAfter(ms: number): void {
    this.#quiet = setTimeout(() => {
      this.#quiet = null;
      const left = this.#lastSent + OUTBOX_QUIET_MS - Date.now();
      if (left > 0) return this.#quietAfter(left);
      if (this.#running || this.table.hasStaged()) return;
      this.settle();
      this.clock.release("outbox");
    }, ms);
  }
}
