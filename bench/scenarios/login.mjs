// Contention: installations that exist log in to one new custom ID, each exactly once, all at
// once. Checks that every one ended on that custom ID's profile (no lost transition). Uses the
// installations first-contact made; makes its own when it did not run. Metered as it runs.
import { op } from "../lib/ops.mjs";

export async function run(ctx) {
  let crowd = (ctx.state.fresh ?? []).slice(0, ctx.env.crowd);
  if (crowd.length < ctx.env.crowd) {
    crowd = Array.from({ length: Math.min(ctx.env.crowd, 300) }, () => crypto.randomUUID());
    for (const i of crowd) {
      await ctx.api(
        "POST",
        "/v1/sdk/batch",
        { installation_id: i, ops: [op({ type: "event", name: "first_open" })] },
        ctx.sdk,
      );
    }
  }
  const customId = `bench-crowd-${Date.now()}`;
  let next = 0;
  const { value: login, cost } = await ctx.meter.measure(
    { name: "login into one contended custom ID", unit: "login", operations: crowd.length },
    () =>
      ctx.load({
        name: "login of many installations into one custom ID",
        url: ctx.urls.app,
        path: "/v1/sdk/batch",
        headers: ctx.sdk,
        body: () => ({
          installation_id: crowd[next++ % crowd.length],
          ops: [op({ type: "identify", custom_id: customId })],
        }),
        amount: crowd.length,
      }),
  );
  const view = await ctx.api("GET", `/v1/profiles?custom_id=${customId}`, undefined, ctx.rest);
  const sampled = crowd.slice(0, 200);
  const onOne = (
    await Promise.all(
      sampled.map((i) =>
        ctx.api("GET", `/v1/profiles?installation_id=${i}`, undefined, ctx.rest).then((v) => v.profile_id),
      ),
    )
  ).every((id) => id === view.profile_id);
  login.check = {
    logins_sent: crowd.length,
    installations_on_profile: view.installations.length,
    sampled_installations_on_that_profile: onOne,
  };
  const ok = view.installations.length === crowd.length && onOne;
  return {
    scenarios: [login],
    targets: {
      contended_login_no_lost_transition: {
        ok,
        value: `${view.installations.length} of ${crowd.length} on one profile`,
        target: "all",
      },
    },
    costs: [cost],
  };
}
