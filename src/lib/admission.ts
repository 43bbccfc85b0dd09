import { SharedFlight } from "./shared-flight";

/**
 * Rate limiting that asks the Rate Limiting binding once per `group` calls of a key, not on
 * every call. The binding's namespace is configured in units of `group` calls (wrangler.toml:
 * a limit of L calls per period becomes L / group), and each answer decides `group` calls of
 * that key in this isolate:
 *
 * - "yes": this call and the next `group - 1` are admitted without asking again;
 * - "no": this call and the next `group - 1` are refused (429) without asking again.
 *
 * So a caller over its limit is still refused: each group it is admitted was paid for with a
 * unit of the binding's budget. The slack is at most `group - 1` calls per isolate and key, in
 * either direction: calls paid for in one window may be spent in the next (a little over the
 * limit), a group bought and not yet spent counts against the caller (a little under), and
 * refusals decided just before a window ends may refuse up to `group - 1` calls of the next.
 * Nothing here reads a clock: the accounting is by count only. See docs/decisions.md,
 * "Rate limiting without a binding call per request".
 */

interface KeyState {
  /** Calls already paid for, still to admit. */
  admits: number;
  /** Calls still to refuse from the last refusal. */
  refusals: number;
}

/** Keys held per limiter: oldest out first (an evicted key's unspent admits are lost: stricter, never looser). */
const MAX_KEYS = 10_000;

/**
 * How long a call waits for another request's binding call of its key before asking itself:
 * the binding answers in about a millisecond, and a call whose request went away may never.
 */
const PATIENCE_MS = 1_000;

export class GroupedLimiter {
  readonly #keys = new Map<string, KeyState>();
  readonly #asking: SharedFlight<void>;

  constructor(
    readonly group: number,
    patienceMs = PATIENCE_MS,
  ) {
    if (!Number.isInteger(group) || group < 1) throw new Error("group must be a positive integer");
    this.#asking = new SharedFlight(patienceMs);
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (!state) {
      if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value as string);
      state = { admits: 0, refusals: 0 };
      this.#keys.set(key, state);
    }
    return state;
  }

  /** Whether this call of `key` is within its limit; asks `binding` for one call in `group`. */
  async admit(binding: RateLimit, key: string): Promise<boolean> {
    const state = this.#state(key);
    for (;;) {
      if (state.admits > 0) {
        state.admits--;
        return true;
      }
      if (state.refusals > 0) {
        state.refusals--;
        return false;
      }
      // Concurrent calls of the key share one binding call (src/lib/shared-flight.ts).
      await this.#asking.run(key, async () => {
        const { success } = await binding.limit({ key });
        if (success) state.admits += this.group;
        else state.refusals += this.group;
      });
    }
  }
}
