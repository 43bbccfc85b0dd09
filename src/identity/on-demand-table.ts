/** Whether an object's SQLite holds a table of that name: one look at `sqlite_master`. */
export function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}

/**
 * A table made by the first write that needs it rather than by an object's first write (the
 * attributes too large for a profile's row, the events, the history after a profile's
 * creation): whether it exists is asked of `sqlite_master` once, or told by the object's schema
 * on waking (`assume`: a wake then costs no second scan, and each scan bills every table and
 * index of the object). It is made inside the caller's transaction, so a rollback undoes it
 * with the rows: `forget`, and it is asked again.
 */
export class OnDemandTable {
  #exists: boolean | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly name: string,
    /** Its `CREATE TABLE IF NOT EXISTS`, and its indexes if any, `;`-separated. */
    private readonly ddl: string,
  ) {}

  get exists(): boolean {
    this.#exists ??= tableExists(this.sql, this.name);
    return this.#exists;
  }

  assume(exists: boolean): void {
    this.#exists = exists;
  }

  forget(): void {
    this.#exists = undefined;
  }

  /** Makes the table unless it exists, a statement at a time (a cursor counts its last one's rows only). */
  make(): void {
    if (this.exists) return;
    for (const statement of this.ddl.split(";").filter((s) => s.trim())) this.sql.exec(statement);
    this.#exists = true;
  }
}
