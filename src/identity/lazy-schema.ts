/**
 * An object's tables, each created by the first write that needs it rather than by the
 * constructor. A Durable Object that stores nothing leaves nothing behind, so a read for an
 * identifier never seen (a typo, a probe) costs no object that lives on; and a table an
 * object never uses (a login's intent, a custom ID's members) costs none of its rows: each
 * table is two rows written, each index one, billed as any other. Reads ask `has` and answer
 * empty for a table not made yet.
 *
 * Waking costs one read of `sqlite_master`: an object whose tables are all of this layout runs
 * no DDL at all. One that holds a table of an older layout (a different definition, a table
 * this layout no longer has) gets the tables it lacks, then `upgrade` (which leaves the tables
 * of this layout alone), on every wake: the upgrades keep no record of having run.
 */

/**
 * `sqlite_master`'s condition for an object's own tables, not SQLite's (`sqlite_…`), Cloudflare's
 * (`_cf_…`) nor, locally, Miniflare's (`__miniflare_do_name`, the object's name under `wrangler
 * dev`): a table this layout does not know would read as one of an older layout.
 */
export const OWN_TABLES = String.raw`type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND name NOT LIKE '\_cf\_%' ESCAPE '\' AND name NOT LIKE '\_\_%' ESCAPE '\'`;

interface Table {
  name: string;
  /** Its `CREATE TABLE` as `sqlite_master` keeps it (no `IF NOT EXISTS`, spaces collapsed). */
  stored: string;
  /** Its `CREATE TABLE` then its indexes, a statement each. */
  statements: string[];
}

const oneLine = (statement: string) => statement.replace(/\s+/g, " ").trim();

/** The tables of `ddl` (`;`-separated `CREATE TABLE IF NOT EXISTS` and `CREATE INDEX … ON`), by name. */
function parse(ddl: string): Map<string, Table> {
  const tables = new Map<string, Table>();
  for (const statement of ddl.split(";").map(oneLine).filter(Boolean)) {
    const table = /^CREATE TABLE IF NOT EXISTS (\w+)/i.exec(statement)?.[1];
    if (table) {
      const stored = statement.replace(/^CREATE TABLE IF NOT EXISTS /i, "CREATE TABLE ");
      tables.set(table, { name: table, stored, statements: [statement] });
      continue;
    }
    const indexed = /^CREATE (?:UNIQUE )?INDEX IF NOT EXISTS \w+ ON (\w+)/i.exec(statement)?.[1];
    const owner = indexed ? tables.get(indexed) : undefined;
    if (!owner) throw new Error(`schema: not a table or an index of one declared before it: ${statement}`);
    owner.statements.push(statement);
  }
  return tables;
}

export class LazySchema {
  readonly #tables: Map<string, Table>;
  readonly #present = new Set<string>();

  constructor(
    private readonly sql: SqlStorage,
    ddl: string,
    /** The tables every written object has, created by its first write; the first says it was written. */
    private readonly firstWrite: string[],
    /** Brings tables made by an older layout up to this one (added columns, moved rows), after the DDL. */
    private readonly upgrade: (sql: SqlStorage) => void = () => {},
  ) {
    this.#tables = parse(ddl);
    for (const name of firstWrite) if (!this.#tables.has(name)) throw new Error(`schema: no table ${name}`);
  }

  /** The tables the object holds (`OWN_TABLES`). */
  private stored(): { name: string; sql: string | null }[] {
    return this.sql
      .exec<{ name: string; sql: string | null }>(`SELECT name, sql FROM sqlite_master WHERE ${OWN_TABLES}`)
      .toArray();
  }

  /** At start-up (in `blockConcurrencyWhile`): learns which tables exist; upgrades an older layout. */
  load(): void {
    const stored = this.stored();
    this.#present.clear();
    for (const t of stored) this.#present.add(t.name);
    const current = stored.every((t) => t.sql !== null && this.#tables.get(t.name)?.stored === oneLine(t.sql));
    if (current) return;
    // An older layout: the tables it lacks, then the upgrade of those it has.
    this.create([...this.#tables.keys()].filter((t) => !this.#present.has(t)));
    this.upgrade(this.sql);
    this.#present.clear();
    for (const t of this.stored()) this.#present.add(t.name);
  }

  /** After a rollback that may have undone a table's creation: reads which tables exist again. */
  reload(): void {
    this.#present.clear();
    for (const t of this.stored()) this.#present.add(t.name);
  }

  /** Whether the object was written: it holds the first-write tables. */
  get exists(): boolean {
    return this.has(this.firstWrite[0] as string);
  }

  has(table: string): boolean {
    return this.#present.has(table);
  }

  /**
   * Creates the tables a write needs (by default the first-write ones) that do not exist yet.
   * Call outside a transaction, so no rollback undoes them behind this object's back.
   */
  ensure(...tables: string[]): void {
    const wanted = tables.length ? tables : this.firstWrite;
    const missing = wanted.filter((t) => !this.#present.has(t));
    if (missing.length) this.create(missing);
  }

  /**
   * Runs the DDL a statement at a time: a cursor over several statements reports the rows
   * written by its last one only, and every statement here writes rows.
   */
  private create(tables: string[]): void {
    for (const name of tables) {
      const table = this.#tables.get(name);
      if (!table) throw new Error(`schema: no table ${name}`);
      for (const statement of table.statements) this.sql.exec(statement);
      this.#present.add(name);
    }
  }
}
