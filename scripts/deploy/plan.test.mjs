// `node --test scripts/deploy/`: the provisioning plan and wrangler.toml agree. The names are
// read back from wrangler.toml's text here, independently of the parser the plan uses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { readWranglerToml } from "../lib/wrangler-config.mjs";
import { provisioningPlan } from "./plan.mjs";

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

test("the lifecycle rules are r2-lifecycle.json's, on a bucket of wrangler.toml; the required secrets are set", () => {
  // Read here on its own, not through the plan's reading.
  const intended = JSON.parse(readFileSync(new URL("../../r2-lifecycle.json", import.meta.url), "utf8"));
  assert.ok(named("bucket_name").includes(intended.bucket), intended.bucket);
  assert.ok(intended.rules.length > 0);
  assert.deepEqual(
    plan.lifecycle,
    intended.rules.map((r) => ({
      bucket: intended.bucket,
      id: r.id,
      prefix: r.prefix,
      args: [
        ...(r.expire_days === undefined ? [] : ["--expire-days", String(r.expire_days)]),
        ...(r.abort_multipart_days === undefined ? [] : ["--abort-multipart-days", String(r.abort_multipart_days)]),
      ],
    })),
  );
  // The retention the code assumes (src/privacy/copies.ts COPY_DAYS: 7 days) is what the bucket keeps.
  const days = (prefix) => intended.rules.find((r) => r.prefix === prefix && r.expire_days)?.expire_days;
  assert.equal(days("exports-work/"), 7);
  assert.equal(days("privacy/"), 7);
  const required = toml.match(/^required\s*=\s*\[([^\]]*)\]/m)?.[1] ?? "";
  assert.deepEqual(
    plan.secrets,
    [...required.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
  );
  assert.ok(plan.secrets.includes("ADMIN_TOKEN"));
});

test("every line of .dev.vars.example reaches `npm run dev`: a secret it declares, or passed as --var", () => {
  const example = readFileSync(new URL("../../.dev.vars.example", import.meta.url), "utf8");
  const keys = [...example.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]);
  assert.ok(keys.includes("ADMIN_TOKEN") && keys.includes("ALLOW_HTTP_WEBHOOKS"));
  const dev = readFileSync(new URL("../dev.mjs", import.meta.url), "utf8");
  assert.match(dev, /\.\.\.extraVars/);
});
