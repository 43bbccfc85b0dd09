// First contact: an SDK batch (one event) from an installation never seen before, so a new
// object. The yardstick makes a new object (idFromName of a fresh ID) and writes one row in it.
// The new installations are kept for the login scenario.
import { op } from "../lib/ops.mjs";
import { compare, target } from "../lib/report.mjs";

export async function run(ctx) {
  const fresh = [];
  ctx.state.fresh = fresh;
  const body = () => {
    const i = crypto.randomUUID();
    fresh.push(i);
    return { installation_id: i, ops: [op({ type: "event", name: "first_open" })] };
  };
  const duration = ctx.env.duration / 2;
  const [yard, first] = await ctx.interleaved(
    [
      () =>
        ctx.load({
          name: "yardstick: a new object, one row written",
          url: ctx.urls.base,
          path: "/first",
          body: () => ({ installation_id: crypto.randomUUID(), ops: [op({ type: "event", name: "first_open" })] }),
          duration,
        }),
      () =>
        ctx.load({
          name: "SDK first contact of new installations",
          url: ctx.urls.app,
          path: "/v1/sdk/batch",
          headers: ctx.sdk,
          body,
          duration,
        }),
    ],
    Math.max(1, Math.round(ctx.env.rounds / 2)),
  );
  yard.yardstick = true;
  compare(first, yard);

  const n = ctx.env.metered;
  const { cost } = await ctx.meter.measure(
    { name: "SDK first contact (one event, new installation)", unit: "new installation", operations: n },
    () =>
      ctx.load({
        name: "metered",
        url: ctx.urls.app,
        path: "/v1/sdk/batch",
        headers: ctx.sdk,
        body,
        connections: 4,
        amount: n,
      }),
  );
  return {
    scenarios: [yard, first],
    targets: { first_contact_rps_vs_yardstick: target(first.x_rps, ">=", 0.5, "×") },
    costs: [cost],
  };
}
