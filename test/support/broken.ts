import { runInDurableObject } from "cloudflare:test";

/**
 * Breaks a Durable Object's storage the way a corrupted or half-migrated database would: every
 * table is renamed away, so each of its reads and writes fails until `repair` puts them back.
 */
export async function breakStorage(stub: DurableObjectStub<Rpc.DurableObjectBranded | undefined>) {
  const tables = await runInDurableObject(stub, (_instance, state) => {
    const names = state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .toArray()
      .map((r) => r.name);
    for (const name of names) state.storage.sql.exec(`ALTER TABLE "${name}" RENAME TO "${name}_away"`);
    return names;
  });
  return {
    repair: () =>
      runInDurableObject(stub, (_instance, state) => {
        for (const name of tables) state.storage.sql.exec(`ALTER TABLE "${name}_away" RENAME TO "${name}"`);
      }),
  };
}
