// A second edge-cdp Worker with more projection shards, for bench/scenarios/shards.mjs: its config
// derived from wrangler.toml, its shards migrated, and profiles seeded straight into each shard
// with bulk SQL, each on the shard fnv1a(profile_id) mod k names (src/db/shards.ts).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { wrangler } from "./wrangler.mjs";

export const SHARDS_CONFIG = ".wrangler/bench-shards.toml";

/**
 * Writes SHARDS_CONFIG: wrangler.toml with PROJECTION_0…PROJECTION_{count-1} (the ones it lacks
 * added as new databases), its paths made absolute (wrangler reads them beside the config), and a
 * name of its own. Returns the binding names of the shards.
 */
export function writeShardsConfig(count) {
  const root = resolve(".");
  let toml = readFileSync("wrangler.toml", "utf8")
    .replace(/^name = "edge-cdp"$/m, 'name = "edge-cdp-bench-shards"')
    .replace(/^main = "src\/index.ts"$/m, `main = "${root}/src/index.ts"`)
    .replaceAll(/^migrations_dir = "migrations"$/gm, `migrations_dir = "${root}/migrations"`);
  const have = new Set([...toml.matchAll(/^binding = "(PROJECTION_\d+)"$/gm)].map((m) => m[1]));
  const names = Array.from({ length: count }, (_, k) => `PROJECTION_${k}`);
  for (const [k, name] of names.entries()) {
    if (have.has(name)) continue;
    toml += `
[[d1_databases]]
binding = "${name}"
database_name = "edge-cdp-projection-${k}"
database_id = "00000000-0000-4000-8000-${String(k).padStart(12, "0")}"
migrations_dir = "${root}/migrations"
`;
  }
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(SHARDS_CONFIG, toml);
  return names;
}

/** Applies the migrations to DB and every shard of SHARDS_CONFIG, under `state`. */
export function migrateShards(state, names) {
  for (const binding of ["DB", ...names]) {
    wrangler(["d1", "migrations", "apply", binding, "--local", "--persist-to", state, "--config", SHARDS_CONFIG]);
  }
}

/** Runs SQL on one shard of SHARDS_CONFIG (from a file: the statements may be long); JSON rows of each statement. */
export function shardSql(state, binding, sql) {
  const file = `${state}-sql-${binding}.sql`;
  writeFileSync(file, sql);
  try {
    const out = wrangler([
      "d1",
      "execute",
      binding,
      "--local",
      "--persist-to",
      state,
      "--config",
      SHARDS_CONFIG,
      "--json",
      "--file",
      file,
    ]);
    return JSON.parse(out);
  } finally {
    rmSync(file, { force: true });
  }
}

/** Rows of one query on one shard. */
export function shardQuery(state, binding, sql) {
  const out = wrangler([
    "d1",
    "execute",
    binding,
    "--local",
    "--persist-to",
    state,
    "--config",
    SHARDS_CONFIG,
    "--json",
    "--command",
    sql,
  ]);
  return JSON.parse(out)[0].results;
}

/** FNV-1a over a profile ID, as src/db/shards.ts hashes it. */
export function fnv1a(id) {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const PREFIX = "seed-";

/**
 * SQL for the profile ID `seed-<i, 9 digits><c>` whose fnv1a mod 4 is `position`. Mod 4 only the
 * two low bits of each step count, and there a step (xor a character's low bits, times the odd
 * prime) is linear over GF(2): the low bit is the parity of the low bits so far, the high bit a
 * parity too. So the bits after the digits are sums mod 2, and the last character (d, e, f, g:
 * low bits 0–3) is chosen to land on `position`. Works for k = 1, 2 and 4 (hash mod 4 decides
 * mod 2 and mod 1 too).
 */
export function profileIdSql(position, k) {
  if (![1, 2, 4].includes(k)) throw new Error(`profileIdSql: k = ${k} is not 1, 2 or 4`);
  const target = position % k;
  let h = 0x811c9dc5 & 3;
  for (const c of PREFIX) h = ((h ^ (c.charCodeAt(0) & 3)) * 3) & 3;
  const [h0, h1] = [h & 1, h >> 1];
  const digit = (j) => `((i / ${10 ** (8 - j)}) % 10)`;
  const low = Array.from({ length: 9 }, (_, j) => `${digit(j)} % 2`).join(" + ");
  const high = Array.from({ length: 9 }, (_, j) => `(${digit(j)} / 2) % 2 + ${9 - j} * (${digit(j)} % 2)`).join(" + ");
  const end = `(((${h0} + ${low}) % 2) + 2 * ((${h1 + 9 * h0} + ${high}) % 2))`;
  // ((end xor b) * 3) & 3 = target  ⇔  b = end xor (3 * target & 3); xor as (x | y) - (x & y).
  const want = (3 * target) & 3;
  return `('${PREFIX}' || printf('%09d', i) || char(100 + ((${end} | ${want}) - (${end} & ${want}))))`;
}

/**
 * Inserts profiles `from`…`to` (i) of `projectId` on one shard, each with the IDs
 * profileIdSql(position, k) gives (or UUID-long ones), active, with `attributes` attributes: `tier` (gold one in
 * ten, as bench/scenarios/segments.mjs seeds it), then short strings and numbers.
 */
export function seedSql(projectId, { from, to, position = 0, k = 1, attributes = 1, uuids = false }) {
  // `uuids`: IDs as long as the real ones (UUIDs), for sizes; the hash then places nothing.
  const id = uuids ? "printf('00000000-0000-4000-9000-%012d', i)" : profileIdSql(position, k);
  const range = `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to})`;
  let sql = `${range}
  INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at, holder_kind, holder_id)
    SELECT '${projectId}', ${id}, printf('user-%09d', i), 'active', 1, '2026-01-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z', 'custom_id', printf('user-%09d', i) FROM n;
${range}
  INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, value_num, value_json, version)
    SELECT '${projectId}', ${id}, 'tier', 'string', CASE i % 10 WHEN 0 THEN 'gold' ELSE 'silver' END, NULL, NULL, 1 FROM n;`;
  for (let a = 1; a < attributes; a++) {
    const value =
      a % 2 ? `'string', printf('value-%d', i % ${97 + a}), NULL` : `'number', NULL, (i % ${1000 + a}) * 1.5`;
    sql += `
${range}
  INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, value_num, value_json, version)
    SELECT '${projectId}', ${id}, 'attr_${a}', ${value}, NULL, 1 FROM n;`;
  }
  return sql;
}

/** The statements that place `projectId` over `shards` by position, and make every isolate read the directory again. */
export function placementSql(projectId, shards) {
  const rows = shards.map((s, k) => `('${projectId}', ${k}, '${s}')`).join(", ");
  return `DELETE FROM project_shards WHERE project_id = '${projectId}';
INSERT INTO project_shards (project_id, position, shard) VALUES ${rows};
UPDATE directory_epoch SET epoch = epoch + 1 WHERE id = 0;`;
}
