// `node --test scripts/deploy/`: the provisioning plan and wrangler.toml agree. The names are
// read back from wrangler.toml's text here, independently of the parser the plan uses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { readWranglerToml } from "../lib/wrangler-config.mjs";
import { LIFECYCLE_RULES, provisioningPlan } from "./plan.mjs";

const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
const plan = provisioningPlan(readWranglerToml(new URL("../..", import.meta.url).pathname));
const named = (key) => [...toml.matchAll(new RegExp(`^\\s*${key}\\s*=\\s*"([^"]+)"`, "gm"))].map((m) => m[1]);

test("every queue and dead-letter queue wrangler.toml names is provisioned, and nothing else", () => {
  assert.deepEqual(plan.queues, [...new Set([...named("queue"), ...named("dead_letter_queue")])].sort());
  assert.ok(plan.queues.includes("edge-cdp-purge"));
});

test("every D1 database and R2 bucket is provisioned", () => {
  assert.deepEqual(
    plan.d1.map((d) => d.name),
    named("database_name"),
  );
  assert.deepEqual(
    plan.buckets.map((b) => b.name),
    named("bucket_name"),
  );
});

test("lifecycle rules name buckets of wrangler.toml, and the required secrets are set", () => {
  for (const binding of Object.keys(LIFECYCLE_RULES))
    assert.ok(
      plan.buckets.some((b) => b.binding === binding),
      binding,
    );
  assert.equal(plan.lifecycle.length, Object.values(LIFECYCLE_RULES).flat().length);
  // Each unset one gets a random value: both are keys that nothing else has to know in advance.
  assert.deepEqual(plan.secrets, ["ADMIN_TOKEN", "CHANNEL_SECRET_KEY"]);
});

test("every line of .dev.vars.example reaches `npm run dev`: a secret it declares, or passed as --var", () => {
  const example = readFileSync(new URL("../../.dev.vars.example", import.meta.url), "utf8");
  const keys = [...example.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]);
  assert.ok(keys.includes("ADMIN_TOKEN") && keys.includes("ALLOW_HTTP_WEBHOOKS"));
  const dev = readFileSync(new URL("../dev.mjs", import.meta.url), "utf8");
  assert.match(dev, /\.\.\.extraVars/);
});
