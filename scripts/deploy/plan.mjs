// What `npm run deploy` provisions, derived from wrangler.toml's raw configuration: nothing here
// is a hand-kept list of names. The R2 lifecycle rules, which wrangler.toml has no field for, come
// from r2-lifecycle.json, the one place the intended rules are written (README, SPEC §5 Privacy).
import { readFileSync } from "node:fs";

/** r2-lifecycle.json as written: a bucket name and its rules. */
export const LIFECYCLE = JSON.parse(readFileSync(new URL("../../r2-lifecycle.json", import.meta.url), "utf8"));

/** One rule of r2-lifecycle.json as `wrangler r2 bucket lifecycle add` takes it. */
export function lifecycleRule(rule) {
  const args = [];
  if (rule.expire_days !== undefined) args.push("--expire-days", String(rule.expire_days));
  if (rule.abort_multipart_days !== undefined) args.push("--abort-multipart-days", String(rule.abort_multipart_days));
  if (args.length === 0) throw new Error(`r2-lifecycle.json: rule ${rule.id} sets no action`);
  return { id: rule.id, prefix: rule.prefix, args };
}

/**
 * The resources a deployment needs: D1 databases, queues (producers, consumers and their
 * dead-letter queues), R2 buckets and their lifecycle rules, and the required secrets.
 */
export function provisioningPlan(config) {
  const queues = new Set();
  for (const p of config.queues?.producers ?? []) queues.add(p.queue);
  for (const c of config.queues?.consumers ?? []) {
    queues.add(c.queue);
    if (c.dead_letter_queue) queues.add(c.dead_letter_queue);
  }
  const buckets = (config.r2_buckets ?? []).map((b) => ({ binding: b.binding, name: b.bucket_name }));
  return {
    d1: (config.d1_databases ?? []).map((d) => ({ binding: d.binding, name: d.database_name, id: d.database_id })),
    queues: [...queues].sort(),
    buckets,
    lifecycle: buckets.flatMap((b) =>
      b.name === LIFECYCLE.bucket ? LIFECYCLE.rules.map((rule) => ({ bucket: b.name, ...lifecycleRule(rule) })) : [],
    ),
    secrets: config.secrets?.required ?? [],
  };
}
