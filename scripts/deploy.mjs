// `npm run deploy`: provisions what wrangler.toml names when it is missing (D1 databases, queues
// and dead-letter queues, R2 buckets and their lifecycle rules), applies the D1 migrations, sets
// the required secrets that are unset (ADMIN_TOKEN, CHANNEL_SECRET_KEY: generated, printed once; a Worker whose
// required secret is missing does not deploy), then deploys.
// Idempotent: every step first asks Cloudflare what exists. Needs `npx wrangler login` first.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { provisioningPlan } from "./deploy/plan.mjs";
import { readWranglerToml } from "./lib/wrangler-config.mjs";

const wrangler = "node_modules/.bin/wrangler";
const run = (args, input) =>
  execFileSync(wrangler, args, {
    encoding: "utf8",
    input,
    stdio: [input === undefined ? "inherit" : "pipe", "pipe", "inherit"],
  });
const step = (what) => console.log(`\n== ${what}`);

const plan = provisioningPlan(readWranglerToml());

step("D1");
const databases = JSON.parse(run(["d1", "list", "--json"]));
for (const db of plan.d1) {
  let found = databases.find((d) => d.name === db.name);
  if (!found) {
    console.log(`creating D1 database ${db.name}`);
    run(["d1", "create", db.name]);
    found = JSON.parse(run(["d1", "list", "--json"])).find((d) => d.name === db.name);
  }
  if (found && found.uuid !== db.id) {
    // wrangler.toml carries the database's ID: written back so `wrangler deploy` binds the real one.
    const toml = readFileSync("wrangler.toml", "utf8");
    writeFileSync("wrangler.toml", toml.replace(`database_id = "${db.id}"`, `database_id = "${found.uuid}"`));
    console.log(`wrangler.toml: ${db.binding} database_id = ${found.uuid}`);
  }
}

step("Queues");
const queueList = run(["queues", "list"]);
for (const queue of plan.queues) {
  if (new RegExp(`(^|[\\s│|])${queue}([\\s│|]|$)`, "m").test(queueList)) console.log(`queue ${queue}: exists`);
  else run(["queues", "create", queue]);
}

step("R2");
const bucketList = run(["r2", "bucket", "list"]);
for (const bucket of plan.buckets) {
  if (new RegExp(`name:\\s+${bucket.name}\\s*$`, "m").test(bucketList)) console.log(`bucket ${bucket.name}: exists`);
  else run(["r2", "bucket", "create", bucket.name]);
}
for (const rule of plan.lifecycle) {
  const rules = run(["r2", "bucket", "lifecycle", "list", rule.bucket]);
  if (rules.includes(rule.id)) console.log(`lifecycle ${rule.bucket}/${rule.id}: exists`);
  else run(["r2", "bucket", "lifecycle", "add", rule.bucket, rule.id, rule.prefix, ...rule.args, "--force"]);
}

step("D1 migrations");
for (const db of plan.d1) run(["d1", "migrations", "apply", db.binding, "--remote"], "y\n");

step("Secrets");
const secrets = (() => {
  try {
    return JSON.parse(run(["secret", "list", "--format", "json"])).map((s) => s.name);
  } catch {
    return [];
  }
})();
for (const name of plan.secrets) {
  if (secrets.includes(name)) {
    console.log(`secret ${name}: set`);
    continue;
  }
  const value = randomBytes(32).toString("base64url");
  run(["secret", "put", name], value);
  console.log(`secret ${name} set to ${value}\n  (shown once: keep it; \`wrangler secret put ${name}\` changes it)`);
}

step("Deploy");
console.log(run(["deploy"]));
