// SDK batches of 10 ops to installations idle past their object's eviction: each batch starts
// its object again. The installations come from sdk-warm when it ran; else they are made here.
// Metered as it runs: nothing else runs meanwhile.
import { sleep } from "../lib/load.mjs";
import { tenOps } from "../lib/ops.mjs";

export async function run(ctx) {
  let idle = ctx.state.idle;
  if (!idle) {
    const installations = Array.from({ length: ctx.env.idle }, () => crypto.randomUUID());
    for (const i of installations)
      await ctx.api("POST", "/v1/sdk/batch", { installation_id: i, ops: tenOps() }, ctx.sdk);
    idle = { installations, since: Date.now() };
  }
  // Past the 10 s eviction and the 30 s fallback alarm their first batch armed.
  const wait = 45_000 - (Date.now() - idle.since);
  if (wait > 0) await sleep(wait);
  let woken = 0;
  const { value: row, cost } = await ctx.meter.measure(
    {
      name: "SDK batch, 10 ops, installation idle past its object's eviction",
      unit: "10-op SDK batch",
      operations: idle.installations.length,
    },
    () =>
      ctx.load({
        name: "SDK batch, 10 ops, installations idle past their object's eviction",
        url: ctx.urls.app,
        path: "/v1/sdk/batch",
        headers: ctx.sdk,
        ops: 10,
        body: () => ({ installation_id: idle.installations[woken++ % idle.installations.length], ops: tenOps() }),
        amount: idle.installations.length,
      }),
  );
  return { scenarios: [row], costs: [cost] };
}
