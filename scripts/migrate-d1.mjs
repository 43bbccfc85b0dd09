// Applies migrations/ to every D1 database of wrangler.toml: the control database (DB) and each
// projection shard (PROJECTION_<n>). `node scripts/migrate-d1.mjs --local` or `--remote`; what
// follows (e.g. `--persist-to <dir>`) is passed to each `wrangler d1 migrations apply`.
// PROJECTION_0 is DB itself, so its turn finds nothing left to apply.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const [where, ...rest] = process.argv.slice(2);
if (where !== "--local" && where !== "--remote") throw new Error("usage: migrate-d1.mjs --local|--remote");
const databases = [...readFileSync("wrangler.toml", "utf8").matchAll(/^binding = "(DB|PROJECTION_\d+)"$/gm)].map(
  (m) => m[1],
);
for (const binding of databases) {
  execFileSync("node_modules/.bin/wrangler", ["d1", "migrations", "apply", binding, where, ...rest], {
    stdio: "inherit",
  });
}
