// Profile API updates of 200 operations, each on its own custom ID: once on 200 new custom IDs
// a request (200 new objects), once on 200 that exist. The yardstick writes one row to the
// object of each of the 200 custom IDs of the same body, 16 objects at a time as edge-cdp
// calls them. Few connections (BENCH_PROFILE_CONNECTIONS), so that requests finish.
import { profileUpdates } from "../lib/ops.mjs";
import { compare, target } from "../lib/report.mjs";

const PER_REQUEST = 200;

export async function run(ctx) {
  const { env } = ctx;
  const connections = env.profileConnections;
  const amount = connections * env.profileRequests;
  const run = Date.now().toString(36);
  const made = { app: [], base: [] };
  const taken = { app: 0, base: 0 };
  const newIds = (who) => () => {
    const ids = Array.from({ length: PER_REQUEST }, (_, k) => `${who}-${run}-${made[who].length + k}`);
    made[who].push(...ids);
    return profileUpdates(ids);
  };
  const existingIds = (who) => () => {
    const pool = made[who];
    const ids = Array.from({ length: PER_REQUEST }, () => pool[taken[who]++ % pool.length]);
    return profileUpdates(ids);
  };
  const target_ = {
    base: { url: ctx.urls.base, path: "/profiles" },
    app: { url: ctx.urls.app, path: "/v1/profiles/update", headers: ctx.rest },
  };
  const loadOf = (who, name, body) => () =>
    ctx.load({ name, ...target_[who], body, ops: PER_REQUEST, connections, amount, timeout: 120, exact: true });
  // Each round's new-ID loads run first, so the existing-ID loads find IDs that exist.
  const [baseNew, appNew, baseOld, appOld] = await ctx.interleaved(
    [
      loadOf("base", "yardstick: one row in each of 200 new objects", newIds("base")),
      loadOf("app", "Profile API update, 200 operations on 200 new custom IDs", newIds("app")),
      loadOf("base", "yardstick: one row in each of 200 existing objects", existingIds("base")),
      loadOf("app", "Profile API update, 200 operations on 200 existing custom IDs", existingIds("app")),
    ],
    env.profileRounds,
  );
  for (const y of [baseNew, baseOld]) y.yardstick = true;
  compare(appNew, baseNew);
  compare(appOld, baseOld);
  for (const r of [baseNew, appNew, baseOld, appOld]) r.profile_updates_per_s = r.operations_per_s;

  const requests = 2;
  const metered = async (name, body) =>
    (
      await ctx.meter.measure({ name, unit: "profile update", operations: requests * PER_REQUEST }, async () => {
        for (let k = 0; k < requests; k++) await ctx.api("POST", "/v1/profiles/update", body(), ctx.rest);
      })
    ).cost;
  const costs = [
    await metered("Profile API update, new custom ID", newIds("app")),
    await metered("Profile API update, existing custom ID", existingIds("app")),
  ];
  return {
    scenarios: [baseNew, appNew, baseOld, appOld],
    targets: {
      profile_api_new_ids_vs_yardstick: target(appNew.x_rps, ">=", 0.5, "×"),
      profile_api_existing_ids_vs_yardstick: target(appOld.x_rps, ">=", 0.5, "×"),
    },
    costs,
  };
}
