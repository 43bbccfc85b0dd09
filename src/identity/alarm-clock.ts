/** Why an object wants its alarm: resuming a transition, sending what the outbox holds. */
export type AlarmPurpose = "intent" | "outbox";

/**
 * The one alarm a Durable Object has, serving several purposes: it keeps the earliest time
 * asked for, skips the storage write when the armed alarm already fires soon enough, and is
 * deleted once no purpose needs it, so an object that has nothing left to do is not woken.
 */
export class AlarmClock {
  /** When the armed alarm fires; null when none is; undefined until known. */
  #at: number | null | undefined;
  /** What the armed alarm is for; "unknown" for one armed before the object started. */
  readonly #purposes = new Set<AlarmPurpose | "unknown">();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the armed alarm; call it from the object's `blockConcurrencyWhile`. */
  async load(): Promise<void> {
    this.#at = await this.storage.getAlarm();
    if (this.#at !== null) this.#purposes.add("unknown");
  }

  /** Makes sure the alarm fires by `at`. Not awaited: the write joins the current output gate. */
  armBy(at: number, purpose: AlarmPurpose): void {
    this.#purposes.add(purpose);
    if (this.#at != null && this.#at <= at) return;
    this.#at = at;
    void this.storage.setAlarm(at);
  }

  /** `purpose` needs the alarm no more; deletes it when nothing else does. */
  release(purpose: AlarmPurpose): void {
    this.#purposes.delete(purpose);
    if (this.#purposes.size > 0 || this.#at === null) return;
    this.#at = null;
    void this.storage.deleteAlarm();
  }

  /** Call first thing in `alarm()`: the alarm that fired is armed no more. */
  fired(): void {
    this.#at = null;
    this.#purposes.clear();
  }
}
