// Contention: installations that exist log in to one new custom ID, each exactly once, all at
// once. Checks that every one ended on that custom ID's profile (no lost transition). Uses the
// installations first-contact made (at most BENCH_CROWD); makes 300 of its own when it did not
// run. Metered as it runs.
import { sleep } from "../lib/load.mjs";
import { op } from "../lib/ops.mjs";

export async function run(ctx) {
  let crowd = (ctx.state.fresh ?? []).slice(0, ctx.env.crowd);
  if (crowd.length === 0) {
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
  // The custom ID's view settles once every transition's cross-object steps have landed: read it
  // until it holds every installation, or stops changing for 10 s.
  const settleStart = Date.now();
  let view = await ctx.api("GET", `/v1/profiles?custom_id=${customId}`, undefined, ctx.rest);
  let stillSince = Date.now();
  // The view lists the most recently seen installations and counts the others.
  const held = (v) => v.installations.length + (v.installations_not_shown ?? 0);
  while (held(view) < crowd.length && Date.now() - stillSince < 10_000 && Date.now() - settleStart < 120_000) {
    await sleep(1000);
    const next = await ctx.api("GET", `/v1/profiles?custom_id=${customId}`, undefined, ctx.rest);
    if (held(next) !== held(view)) stillSince = Date.now();
    view = next;
  }
  // Up to 200 installations, spread over the crowd, each read from its own object.
  const step = Math.max(1, Math.floor(crowd.length / 200));
  const sampled = crowd.filter((_, k) => k % step === 0).slice(0, 200);
  const onOne = (
    await Promise.all(
      sampled.map((i) =>
        ctx.api("GET", `/v1/profiles?installation_id=${i}`, undefined, ctx.rest).then((v) => v.profile_id),
      ),
    )
  ).every((id) => id === view.profile_id);
  login.check = {
    logins_sent: crowd.length,
    installations_on_profile: held(view),
    view_settled_after_ms: Date.now() - settleStart,
    sampled_installations_on_that_profile: onOne,
  };
  const ok = held(view) === crowd.length && onOne;
  return {
    scenarios: [login],
    targets: {
      contended_login_no_lost_transition: {
        ok,
        value: `${held(view)} of ${crowd.length} on one profile${onOne ? "" : ", a sampled installation elsewhere"}`,
        target: "all",
      },
    },
    costs: [cost],
  };
}
