/**
 * An object's tables, created by its first write rather than by its constructor: a Durable
 * Object that stores nothing leaves nothing behind, so a read for an identifier never seen
 * (a typo, a probe) costs no object that lives on. Reads ask `exists` and answer null.
 */
export class LazySchema {
  #exists = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly ddl: string,
    /** A table every written object has: its presence says the object was written. */
    private readonly probe: string,
  ) {}

  /** At start-up (in `blockConcurrencyWhile`): brings the tables of an object written before up to date. */
  load(): void {
    this.#exists =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", this.probe).toArray().length > 0;
    if (this.#exists) this.sql.exec(this.ddl);
  }

  get exists(): boolean {
    return this.#exists;
  }

  /** Creates the tables before a first write; call outside a transaction, so no rollback undoes it. */
  ensure(): void {
    if (this.#exists) return;
    this.sql.exec(this.ddl);
    this.#exists = true;
  }
}
