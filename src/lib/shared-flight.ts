/**
 * One call in flight per key, shared by the concurrent requests of an isolate (one directory
 * read, one Rate Limiting call) rather than made by each of them, without one request ever
 * awaiting a promise another request made.
 *
 * workerd ties a call's I/O to the request that made it. A request that awaits another request's
 * promise resumes on that request's behalf: reading its own body then fails ("Cannot perform I/O
 * on behalf of a different request"), and when the other request ends first the promise may never
 * settle, so the waiter, and every later caller of the key with it, hangs. So a waiter does not
 * await the call: it looks at the call's outcome after each of its own short sleeps, and after
 * `patienceMs` without one it forgets that call and makes its own.
 */
export class SharedFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  constructor(
    readonly patienceMs: number,
    readonly pollMs = 2,
  ) {}

  /** The result of `call()`, or of the same key's call already in flight. */
  async run(key: string, call: () => Promise<T>): Promise<T> {
    for (;;) {
      const flight = this.#flights.get(key);
      if (!flight) return this.#own(key, call);
      const giveUpAt = Date.now() + this.patienceMs;
      while (!flight.outcome && Date.now() < giveUpAt) await sleep(this.pollMs);
      const { outcome } = flight;
      if (outcome?.ok) return outcome.value;
      if (outcome) throw outcome.error;
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    }
  }

  async #own(key: string, call: () => Promise<T>): Promise<T> {
    const flight: Flight<T> = {};
    this.#flights.set(key, flight);
    try {
      const value = await call();
      flight.outcome = { ok: true, value };
      return value;
    } catch (error) {
      flight.outcome = { ok: false, error };
      throw error;
    } finally {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    }
  }
}

/** A call in flight; its outcome once settled (plain values only: no promise crosses requests). */
interface Flight<T> {
  outcome?: { ok: true; value: T } | { ok: false; error: unknown };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
