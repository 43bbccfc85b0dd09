import { EdgeCdpError } from "./errors";
import type { Op, OpQueue } from "./queue";

export interface SenderOptions {
  url: string;
  apiKey: string;
  installationId: string;
  context: () => Record<string, string>;
  flushDelayMs: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  report: (error: EdgeCdpError) => void;
}

/** The server applies at most 100 ops a batch (SPEC §5). */
const MAX_OPS = 100;
/** A keepalive request carries at most 64 KiB: every batch stays under it, so any batch can be the last. */
const MAX_BYTES = 60_000;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface ErrorEnvelope {
  error?: { code?: string; message?: string; issues?: { path?: string; message?: string }[] };
}

/**
 * Sends the queue's head in batches, one request at a time so ops reach the server in the order
 * they were made. An op leaves the queue only once the server answered for it: a failed send is
 * retried (backoff with jitter) with the same op IDs, and the server acknowledges an op it has
 * already applied without applying it again.
 */
export class Sender {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private failures = 0;
  private backingOff = false;
  private exiting = false;
  private maxOps = MAX_OPS;
  private waiters: Waiter[] = [];
  /** Context fields the server refused (a code it does not know): not sent again. */
  private readonly refusedContext = new Set<string>();

  constructor(
    private readonly queue: OpQueue,
    private readonly o: SenderOptions,
  ) {}

  /** Ops were added: send after a short delay, or now when a whole batch is waiting. */
  queued(): void {
    if (this.backingOff) return;
    this.schedule(this.queue.size >= MAX_OPS ? 0 : this.o.flushDelayMs);
  }

  flush(): Promise<void> {
    if (this.queue.size === 0 && !this.sending) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.retryNow();
    this.schedule(0);
    return done;
  }

  /** The network is back: a send waiting out its backoff goes now. */
  retryNow(): void {
    if (!this.backingOff) return;
    this.backingOff = false;
    this.schedule(0);
  }

  /** The page is going away: hand one batch to the browser, which sends it even after the page is gone. */
  sendOnExit(): void {
    // A navigation fires both pagehide and visibilitychange: one request for the two.
    if (this.exiting) return;
    const { ops, body } = this.batch();
    if (ops.length === 0) return;
    this.exiting = true;
    // Only one batch: two requests in flight could arrive out of order. Whatever is left stays
    // queued for the next page, and an op this request delivers is acknowledged as a duplicate
    // if it is sent again.
    fetch(this.o.url, { method: "POST", headers: this.headers(), body, keepalive: true })
      .then((res) => {
        if (res.ok) this.queue.remove(new Set(ops.map((op) => op.id)));
      })
      .catch(() => {})
      .finally(() => {
        this.exiting = false;
      });
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
  }

  private headers(): Record<string, string> {
    return { "Content-Type": "application/json", "X-Api-Key": this.o.apiKey };
  }

  /** The queue's head: at most 100 ops and 60 KB of UTF-8 (a single larger op goes alone). */
  private batch(): { ops: Op[]; body: string } {
    const context = this.o.context();
    for (const field of this.refusedContext) delete context[field];
    const utf8 = new TextEncoder();
    const envelope = JSON.stringify({ installation_id: this.o.installationId, context, ops: [] });
    const ops: Op[] = [];
    let bytes = utf8.encode(envelope).length;
    for (const op of this.queue.all().slice(0, this.maxOps)) {
      const size = utf8.encode(JSON.stringify(op)).length + 1;
      if (ops.length > 0 && bytes + size > MAX_BYTES) break;
      ops.push(op);
      bytes += size;
    }
    return { ops, body: JSON.stringify({ installation_id: this.o.installationId, context, ops }) };
  }

  private async run(): Promise<void> {
    // The send in flight schedules the next one when it ends.
    if (this.sending) return;
    const { ops, body } = this.batch();
    if (ops.length === 0) return this.settle();
    this.sending = true;
    let retry: unknown = null;
    try {
      const res = await fetch(this.o.url, { method: "POST", headers: this.headers(), body });
      if (res.ok) {
        this.queue.remove(new Set(ops.map((op) => op.id)));
        this.failures = 0;
        this.maxOps = MAX_OPS;
      } else if (res.status === 400) {
        this.refuse(ops, ((await res.json().catch(() => ({}))) as ErrorEnvelope).error);
      } else if (res.status === 413 && ops.length > 1) {
        this.maxOps = Math.ceil(ops.length / 2);
      } else if (res.status === 413) {
        this.drop(ops, "PAYLOAD_TOO_LARGE", "An op is larger than the server takes; dropped.");
      } else {
        // 401/403 (a key fixed by the next deploy), 429, 5xx: the ops stay and are sent again.
        retry = Object.assign(new Error(`The server answered ${res.status}.`), {
          retryAfterMs: Number(res.headers.get("Retry-After")) * 1000 || 0,
        });
      }
    } catch (error) {
      retry = error;
    } finally {
      this.sending = false;
    }
    if (retry !== null) return this.backOff(retry);
    if (this.queue.size > 0) this.schedule(0);
    else this.settle();
  }

  private backOff(error: unknown): void {
    this.failures++;
    const ceiling = Math.min(this.o.maxRetryDelayMs, this.o.retryDelayMs * 2 ** (this.failures - 1));
    // Jitter spreads the retries of many pages that failed together (a deploy, an outage).
    const delay = Math.max(
      ceiling / 2 + (Math.random() * ceiling) / 2,
      (error as { retryAfterMs?: number }).retryAfterMs ?? 0,
    );
    this.backingOff = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.backingOff = false;
      void this.run();
    }, delay);
  }

  private settle(): void {
    if (this.queue.size > 0) return;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /**
   * A 400 refuses the whole batch and writes nothing. The issues name what was wrong: a refused
   * op is dropped, an op's refused time is left out (usually a wrong device clock; the server then
   * uses the time of receipt), a refused context field is no longer sent; the rest goes again.
   */
  private refuse(ops: Op[], error: ErrorEnvelope["error"]): void {
    const code = error?.code ?? "VALIDATION_FAILED";
    const dropped = new Map<number, string>();
    const untimed = new Map<string, Op>();
    let understood = false;
    for (const issue of error?.issues ?? []) {
      const [head, index, field] = (issue.path ?? "").split(".");
      if (head === "context" && index) {
        this.refusedContext.add(index);
        understood = true;
      } else if (head === "ops" && ops[Number(index)]) {
        const op = ops[Number(index)] as Op;
        if (field === "time")
          untimed.set(op.id, Object.fromEntries(Object.entries(op).filter(([k]) => k !== "time")) as Op);
        else dropped.set(Number(index), issue.message ?? code);
        understood = true;
      }
    }
    if (!understood) {
      this.drop(ops, code, error?.message ?? "The server refused the batch.");
      return;
    }
    for (const index of dropped.keys()) untimed.delete((ops[index] as Op).id);
    if (untimed.size > 0) this.queue.replace(untimed);
    for (const [index, message] of dropped) this.drop([ops[index] as Op], code, message);
  }

  private drop(ops: Op[], code: string, message: string): void {
    this.queue.remove(new Set(ops.map((op) => op.id)));
    this.o.report(new EdgeCdpError(code, message, ops));
  }
}
