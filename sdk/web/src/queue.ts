/** An op as the server takes it (SPEC §5): its ID and time are fixed when it is made. */
export interface Op {
  id: string;
  time: string;
  type: string;
  [field: string]: unknown;
}

const isOp = (value: unknown): value is Op =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Op).id === "string" &&
  typeof (value as Op).type === "string";

/** Identity ops decide which profile the ops after them land on: they are the last to be dropped. */
const isIdentityOp = (op: Op) => op.type === "identify" || op.type === "logout";

/**
 * The ops waiting to be sent, oldest first, bounded to `max`. Kept in `storage` so they survive a
 * reload; every change reads and writes the stored list whole, so two tabs of one origin add to
 * one queue instead of overwriting each other's (an op sent by both is applied once: same ID).
 * Without usable storage (disabled, full) the queue lives in memory for this page.
 */
export class OpQueue {
  private memory: Op[] = [];
  private stored: boolean;

  constructor(
    private readonly storage: Storage | null,
    private readonly key: string,
    private readonly max: number,
    private readonly onDrop: (dropped: Op[]) => void,
  ) {
    this.stored = storage !== null;
    this.memory = this.read();
  }

  all(): Op[] {
    return this.read();
  }

  get size(): number {
    return this.read().length;
  }

  push(op: Op): void {
    const ops = this.read();
    ops.push(op);
    const dropped: Op[] = [];
    while (ops.length > this.max) {
      const victim = ops.findIndex((o) => !isIdentityOp(o));
      dropped.push(...ops.splice(victim === -1 ? 0 : victim, 1));
    }
    this.write(ops);
    if (dropped.length > 0) this.onDrop(dropped);
  }

  /** Removes the ops with these IDs (sent, or refused for good). */
  remove(ids: ReadonlySet<string>): void {
    this.write(this.read().filter((op) => !ids.has(op.id)));
  }

  /** Replaces ops in place by ID (an op resent without a field the server refused). */
  replace(changed: ReadonlyMap<string, Op>): void {
    this.write(this.read().map((op) => changed.get(op.id) ?? op));
  }

  private read(): Op[] {
    if (!this.storage || !this.stored) return [...this.memory];
    try {
      const raw = this.storage.getItem(this.key);
      const list: unknown = raw === null ? [] : JSON.parse(raw);
      return Array.isArray(list) ? list.filter(isOp) : [];
    } catch {
      return [...this.memory];
    }
  }

  private write(ops: Op[]): void {
    this.memory = ops;
    if (!this.storage || !this.stored) return;
    try {
      if (ops.length === 0) this.storage.removeItem(this.key);
      else this.storage.setItem(this.key, JSON.stringify(ops));
    } catch {
      // Quota exceeded or storage revoked: from now on the queue lives in memory, so what is
      // stored (now stale) is not read back over it.
      this.stored = false;
    }
  }
}
