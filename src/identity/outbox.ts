import { chunkBy } from "../lib/chunk";
import type { AlarmClock } from "./alarm-clock";
import type { OutboxQueue, ProfileStore } from "./profile-store";

/** How long before the alarm retries what the immediate flush could not send. */
export const OUTBOX_RETRY_MS = 30_000;
const BATCH = 100;
/** A sendBatch carries at most 256 KB; each message is at most ~70 KB (see LIMITS.eventAttributeBytes). */
const MAX_SEND_BYTES = 200 * 1024;

/**
 * Sends what a Durable Object wrote to its outbox in the same transaction as the change,
 * so a message is never lost between "stored" and "published". At-least-once: the queue
 * consumers are idempotent. One flush runs at a time per object.
 *
 * Sent rows are deleted with the object's next write (or by the alarm), so sending costs no
 * commit of its own. Rows are numbered in order, so "sent" is one number: everything up to it.
 * If the object is evicted first, the rows are sent again, which at-least-once allows.
 */
export class Outbox {
  #running: Promise<void> | null = null;
  #again = false;
  #sentUpTo = 0;
  #deletedUpTo = 0;

  constructor(
    private readonly store: ProfileStore,
    private readonly queues: Record<OutboxQueue, Queue>,
    private readonly clock: AlarmClock,
  ) {}

  /**
   * Arms the fallback alarm in the same output gate as the write that filled the outbox, then
   * sends in the background. Call after any write that may have filled it.
   */
  afterWrite(ctx: DurableObjectState): void {
    this.settle();
    if (!this.store.takeOutboxFilled()) return;
    this.clock.armBy(Date.now() + OUTBOX_RETRY_MS);
    ctx.waitUntil(this.flush());
  }

  /** Deletes the rows already sent, as part of whatever the object is writing now. */
  settle(): void {
    if (this.#sentUpTo <= this.#deletedUpTo) return;
    this.store.ackOutbox(this.#sentUpTo);
    this.#deletedUpTo = this.#sentUpTo;
  }

  flush(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      for (;;) {
        const rows = this.store.outbox(this.#sentUpTo, BATCH);
        if (rows.length === 0) break;
        try {
          await Promise.all(
            (["events", "projection"] as const).map(async (queue) => {
              const bodies = rows.filter((r) => r.queue === queue).map((r) => r.body);
              for (const group of chunkBy(bodies, BATCH, MAX_SEND_BYTES)) {
                await this.queues[queue].sendBatch(group.map((body) => ({ body, contentType: "json" as const })));
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
          this.clock.armBy(Date.now() + OUTBOX_RETRY_MS);
          return;
        }
        this.#sentUpTo = Math.max(...rows.map((r) => r.seq));
      }
    } while (this.#again);
  }
}
