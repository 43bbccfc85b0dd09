// What `npm run deploy` provisions, derived from wrangler.toml's raw configuration: nothing here
// is a hand-kept list of names, except the R2 lifecycle rules, which wrangler.toml has no field for.

/** R2 lifecycle rules per bucket binding: prefixes the code writes (src/exports/). */
export const LIFECYCLE_RULES = {
  EXPORTS: [
    { id: "staged-events", prefix: "events/", args: ["--expire-days", "90"] },
    { id: "export-runs", prefix: "exports-work/", args: ["--expire-days", "7"] },
    { id: "abandoned-uploads", prefix: "exports/", args: ["--abort-multipart-days", "1"] },
  ],
};

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
    lifecycle: buckets.flatMap((b) => (LIFECYCLE_RULES[b.binding] ?? []).map((rule) => ({ bucket: b.name, ...rule }))),
    secrets: config.secrets?.required ?? [],
  };
}
