import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shardNames } from "../../src/db/shards";

// Setup files run outside per-file storage isolation and may run more than once:
// applyD1Migrations only applies what is not applied yet. Every D1 database gets the same
// migrations: the control database and each projection shard (PROJECTION_0 is DB itself).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
for (const name of shardNames(env)) {
  await applyD1Migrations((env as unknown as Record<string, D1Database>)[name] as D1Database, env.TEST_MIGRATIONS);
}
