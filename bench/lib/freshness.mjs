// Projection freshness: how long after a write's 2xx answer a segment query sees it. A probe
// writes a unique attribute value, alternately through the SDK (one installation) and the
// Profile API (one custom ID), then polls a `count_only` segment for that value every `pollMs`;
// the next sample starts once the value is seen (or given up on), at most one per `everyMs`.
// Segment queries are limited to 60 every 10 s a project: one poll every 200 ms stays under it.
// Stopping waits for the pending sample, so the last one counts like the others.

import { sleep } from "./load.mjs";
import { op } from "./ops.mjs";

export function startFreshnessProbe(ctx, { everyMs = 200, pollMs = 200, giveUpMs = 30_000 } = {}) {
  const installation = crypto.randomUUID();
  const customId = `probe-${installation}`;
  const samples = [];
  let running = true;
  let errors = 0;
  const done = (async () => {
    for (let k = 0; running; k++) {
      const started = Date.now();
      const value = `v${k}-${Math.random().toString(36).slice(2, 8)}`;
      const via = k % 2 ? "profile_api" : "sdk";
      try {
        if (via === "sdk") {
          await ctx.api(
            "POST",
            "/v1/sdk/batch",
            { installation_id: installation, ops: [op({ type: "attributes", attributes: { bench_probe: value } })] },
            ctx.sdk,
          );
        } else {
          await ctx.api(
            "POST",
            "/v1/profiles/update",
            [{ identifiers: { custom_id: customId }, attributes: { bench_probe: value } }],
            ctx.rest,
          );
        }
      } catch {
        errors++;
        await sleep(everyMs);
        continue;
      }
      const answered = Date.now();
      let seenAt = null;
      while (Date.now() - answered < giveUpMs) {
        await sleep(pollMs);
        try {
          const r = await ctx.api(
            "POST",
            "/v1/segments/query",
            { where: { attribute: "bench_probe", op: "eq", value }, count_only: true },
            ctx.rest,
          );
          if (r.count >= 1) {
            seenAt = Date.now();
            break;
          }
        } catch {
          errors++;
        }
      }
      samples.push({ via, ms: seenAt === null ? null : seenAt - answered });
      const wait = everyMs - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
  })();

  return {
    async stop() {
      running = false;
      await done;
      // A value never seen counts as slower than any seen one.
      const sorted = samples.map((s) => s.ms ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
      const pct = (p) => {
        const v = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : null;
        return v === null || Number.isFinite(v) ? v : null;
      };
      return {
        samples: samples.length,
        unseen_after_30s: samples.filter((s) => s.ms === null).length,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1),
        errors,
      };
    },
  };
}
