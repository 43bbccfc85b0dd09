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
    /** Brings tables made by an older layout up to this one (added columns), after `ddl`. */
    private readonly upgrade: (sql: SqlStorage) => void = () => {},
  ) {}

  /**
   * Runs the DDL a statement at a time: a cursor over several statements reports the rows
   * written by its last one only, and every statement here writes rows (billed like any other).
   */
  private create(): void {
    for (const statement of this.ddl.split(";")) if (statement.trim()) this.sql.exec(statement);
    this.upgrade(this.sql);
  }

  /** At start-up (in `blockConcurrencyWhile`): brings the tables of an object written before up to date. */
  load(): void {
    this.#exists =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", this.probe).toArray().length > 0;
    if (this.#exists) this.create();
  }

  get exists(): boolean {
    return this.#exists;
  }

  /** Creates the tables before a first write; call outside a transaction, so no rollback undoes it. */
  ensure(): void {
    if (this.#exists) return;
    this.create();
    this.#exists = true;
  }
}
