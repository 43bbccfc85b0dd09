/**
 * The one alarm a Durable Object has, serving several purposes (resuming a transition,
 * retrying the outbox): it keeps the earliest time asked for, and skips the storage write when
 * the armed alarm already fires soon enough.
 */
export class AlarmClock {
  /** When the armed alarm fires; null when none is; undefined until known. */
  #at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the armed alarm; call it from the object's `blockConcurrencyWhile`. */
  async load(): Promise<void> {
    this.#at = await this.storage.getAlarm();
  }

  /** Makes sure the alarm fires by `at`. Not awaited: the write joins the current output gate. */
  armBy(at: number): void {
    if (this.#at != null && this.#at <= at) return;
    this.#at = at;
    void this.storage.setAlarm(at);
  }

  /** Call first thing in `alarm()`: the alarm that fired is armed no more. */
  fired(): void {
    this.#at = null;
  }
}
