/** What an object's alarm is for. */
export type AlarmPurpose = "outbox" | "resume";

/**
 * The one alarm a Durable Object has, serving several purposes (resuming a transition,
 * retrying the outbox): it keeps the earliest time asked for, skips the storage write when the
 * armed alarm already fires soon enough, and deletes the alarm once no purpose needs it, so an
 * object whose work is done is not woken for nothing.
 */
export class AlarmClock {
  /** When the armed alarm fires; null when none is; undefined until known. */
  #at: number | null | undefined;
  /** The purposes asked for since the alarm last fired or this object started. */
  readonly #purposes = new Set<AlarmPurpose>();
  /** False while an alarm armed before this object started is pending: its purposes are not known. */
  #known = true;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the armed alarm; call it from the object's `blockConcurrencyWhile`. */
  async load(): Promise<void> {
    this.#at = await this.storage.getAlarm();
    this.#known = this.#at === null;
  }

  /** Makes sure the alarm fires by `at`. Not awaited: the write joins the current output gate. */
  armBy(purpose: AlarmPurpose, at: number): void {
    this.#purposes.add(purpose);
    if (this.#at != null && this.#at <= at) return;
    this.#at = at;
    void this.storage.setAlarm(at);
  }

  /** `purpose` no longer needs the alarm; with none left, the alarm is deleted. */
  release(purpose: AlarmPurpose): void {
    this.#purposes.delete(purpose);
    if (this.#purposes.size > 0 || !this.#known || this.#at == null) return;
    this.#at = null;
    void this.storage.deleteAlarm();
  }

  /** Call first thing in `alarm()`: the alarm that fired is armed no more. */
  fired(): void {
    this.#at = null;
    this.#purposes.clear();
    this.#known = true;
  }
}
