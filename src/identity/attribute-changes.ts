import { type AttributeWrite, LIMITS, type Source } from "./attributes";
import type { DataOp } from "./profile-types";
import { reconcile, type StoredAttribute } from "./reconcile";

const isNativeName = (name: string) => name.startsWith("$");

/**
 * One call's attribute writes, reconciled against what the profile held before it and against
 * each other, and written once at the end. `written` names those an earlier op of the call set.
 */
export class AttributeChanges {
  private readonly written = new Map<string, StoredAttribute>();
  /** Net change in the number of custom attributes holding a value, over the ops applied. */
  private growth = 0;

  /** `now` bounds the removals an array attribute remembers. */
  constructor(
    private readonly stored: Map<string, StoredAttribute>,
    private readonly now?: number,
  ) {}

  private current(name: string): StoredAttribute | undefined {
    return this.written.get(name) ?? this.stored.get(name);
  }

  /** True when applied; otherwise why the whole op was refused. `count` is the custom attributes held before the call. */
  apply(op: { writes: AttributeWrite[]; time: string; source: Source }, count: () => number): true | string {
    const next: StoredAttribute[] = [];
    let growth = 0;
    for (const write of op.writes) {
      const current = this.current(write.name);
      const stored = reconcile(current, write, op.time, op.source, this.written.has(write.name), this.now);
      if (!stored) continue;
      next.push(stored);
      if (!isNativeName(stored.name)) growth += Number(stored.value !== null) - Number(current?.value != null);
    }
    const overfull = next.find((a) => Array.isArray(a.value) && a.value.length > LIMITS.arrayItems);
    if (overfull) return `"${overfull.name}" would hold more than ${LIMITS.arrayItems} items.`;
    if (growth > 0 && count() + this.growth + growth > LIMITS.customAttributesPerProfile) {
      return `A profile holds at most ${LIMITS.customAttributesPerProfile} custom attributes.`;
    }
    for (const a of next) this.written.set(a.name, a);
    this.growth += growth;
    return true;
  }

  changed(): StoredAttribute[] {
    return [...this.written.values()];
  }

  /** Whether a write changed what the projection shows: a value or a type, not just its time. */
  visible(): boolean {
    for (const [name, next] of this.written) {
      const before = this.stored.get(name);
      if ((before?.type ?? null) !== (next.type ?? null)) return true;
      if (JSON.stringify(before?.value ?? null) !== JSON.stringify(next.value ?? null)) return true;
    }
    return false;
  }
}

/**
 * Spells out each `clearCustom` op as deletes of the custom attributes it does not write: those
 * held (`held`, read only when an op clears), and those earlier ops of the call write. Each
 * delete then follows last update wins like any other, so a value written after the op's time
 * stays.
 */
export function withClears(ops: DataOp[], held: () => StoredAttribute[]): DataOp[] {
  if (!ops.some((op) => op.type === "attributes" && op.clearCustom)) return ops;
  const custom = (name: string) => !isNativeName(name);
  const named = new Set(held().flatMap((a) => (custom(a.name) ? [a.name] : [])));
  return ops.map((op) => {
    if (op.type !== "attributes") return op;
    let writes = op.writes;
    if (op.clearCustom) {
      const written = new Set(writes.map((w) => w.name));
      const deletes = [...named]
        .filter((name) => !written.has(name))
        .map((name) => ({ name, kind: "delete" as const }));
      writes = [...writes, ...deletes];
    }
    for (const w of writes) if (custom(w.name)) named.add(w.name);
    return writes === op.writes ? op : { ...op, writes };
  });
}
