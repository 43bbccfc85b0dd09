// A push campaign (SPEC §10) to a segment of BENCH_CAMPAIGN_PROFILES (3,000) profiles, each an
// installation subscribed on a local push service (bench/lib/push-service.mjs), opted in and
// carrying `bench_group = <group>`, in a project of their own (a campaign walks every profile
// of its project: here, only its targets). From the create call (`POST /v1/campaigns`, live,
// push_time now, targeting `bench_group eq <group>`) to the last delivery: segment evaluation
// in pages, pieces queued, sent as transactional pieces are. Reported: the time to the first
// and the last delivery and to `sent` (its `completed_at`, read once it is sent: nothing polls
// edge-cdp while the send is metered); deliveries a second beside the transactional yardstick
// (bench/baseline/worker.ts `/push`, the same number of the same payloads, encrypted and signed); the Worker's
// peak memory during the send (workerd's peak resident set, reset just before); billable units
// per 1,000 targeted profiles. BENCH_CAMPAIGN_SEND_RATE (deliveries a minute) paces the send;
// unset, the campaign is unpaced, so the rate is not the bottleneck.
//
// 100,000 profiles, the figure, took 76 minutes here (2026-12-07: the subscribers
// registered at 39 a second, 42 minutes; the send at 55 deliveries a second, 30 minutes). Run
// it with `BENCH_CAMPAIGN_PROFILES=100000`. The default, 3,000, keeps the scenario within about
// 5 minutes; N is printed beside every figure.
import { readFileSync, writeFileSync } from "node:fs";
import { sleep } from "../lib/load.mjs";
import { arrivals, startPushService, untilArrived, yardstickPush } from "../lib/push-service.mjs";
import { subscribedProject, untilProjected } from "../lib/subscribers.mjs";
import { workerdPids } from "../workerd.mjs";

const PROFILES = Number(process.env.BENCH_CAMPAIGN_PROFILES ?? 3000);
const SEND_RATE = process.env.BENCH_CAMPAIGN_SEND_RATE ? Number(process.env.BENCH_CAMPAIGN_SEND_RATE) : undefined;

/**
 * Resets the peak resident set (VmHWM) of the app's workerd processes (Linux: `5` to
 * clear_refs), so that a later reading is the peak of what ran since. False where not allowed.
 */
function resetPeak(wranglerPid) {
  let ok = true;
  for (const pid of workerdPids(wranglerPid)) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Samples the app's largest workerd resident set every 250 ms until stopped; answers the highest (MiB). */
function sampleRss(wranglerPid) {
  const pids = workerdPids(wranglerPid);
  let highest = 0;
  const timer = setInterval(() => {
    for (const pid of pids) {
      try {
        const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
        highest = Math.max(highest, kib);
      } catch {}
    }
  }, 250);
  return () => {
    clearInterval(timer);
    return Math.round(highest / 1024);
  };
}

/**
 * Creates the campaign and waits for its deliveries at the push service. Nothing polls
 * edge-cdp meanwhile (the metered run would count the polls): `sent` is read afterwards.
 */
/** The campaign's one message. */
const CONTENT = { title: "New this week", body: "Twelve new things we think you will like. Have a look." };

async function sendCampaign(ctx, bench, service, group) {
  service.reset("wp");
  const t0 = performance.now();
  const wall = Date.now();
  const body = {
    name: `bench ${group}`,
    live: true,
    push_time: "now",
    targeting: { where: { attribute: "bench_group", op: "eq", value: group } },
    messages: [CONTENT],
    ...(SEND_RATE ? { send_rate: SEND_RATE } : {}),
  };
  const { campaign_token: token } = await ctx.api("POST", "/v1/campaigns", body, bench.rest);
  const createdMs = Math.round(performance.now() - t0);
  const seen = await untilArrived(service, "wp", PROFILES, { timeoutMs: 4 * 3_600_000, quietMs: 60_000 });
  return {
    token,
    wall,
    to_201_ms: createdMs,
    ...arrivals(seen, t0),
    per_s_from_first: Math.round(seen.count / Math.max(0.001, (seen.last - seen.first) / 1000)),
  };
}

/** The campaign once `sent` (waits for it): its stats, and `sent` from the create call. */
async function statusOf(ctx, bench, send, timeoutMs = 600_000) {
  const started = performance.now();
  let c = await ctx.api("GET", `/v1/campaigns/${send.token}`, undefined, bench.rest);
  while (c.state !== "sent" && performance.now() - started < timeoutMs) {
    await sleep(1000);
    c = await ctx.api("GET", `/v1/campaigns/${send.token}`, undefined, bench.rest);
  }
  return { stats: c.stats, sent_state_ms: c.completed_at ? Date.parse(c.completed_at) - send.wall : null };
}

export async function run(ctx) {
  const service = await startPushService(ctx.ports.app + 20);
  try {
    // A campaign reaches installations: its subscribers need no custom ID, and register faster without.
    const { bench, group, made } = await subscribedProject(ctx, service, "bench-campaigns", "camp", PROFILES, {
      identify: false,
    });
    const projectedS = await untilProjected(ctx, group, PROFILES, { headers: bench.rest });
    console.error(`  projected ${projectedS} s later`);

    const appPid = ctx.servers.app.pid;
    const before = ctx.memoryOf("app");
    let peakReset = false;
    let stopSampling = () => 0;
    const { value: sent, cost } = await ctx.meter.measure(
      {
        name: `push campaign to a segment of ${PROFILES.toLocaleString("en")} profiles (a local push service)`,
        unit: "targeted profile",
        operations: PROFILES,
      },
      () => {
        peakReset = resetPeak(appPid);
        stopSampling = sampleRss(appPid);
        return sendCampaign(ctx, bench, service, group);
      },
    );
    const sampledMib = stopSampling();
    const after = ctx.memoryOf("app");
    const { token, wall, ...ours } = { ...sent, ...(await statusOf(ctx, bench, sent)) };
    await sleep(2000);
    // The payload edge-cdp's service worker reads (src/messaging/channels/webpush.ts).
    const payload = JSON.stringify({ ...CONTENT, campaign_token: token });
    await yardstickPush(ctx, service, 25, payload);
    const yard = await yardstickPush(ctx, service, PROFILES, payload);
    const memory = {
      // With the peak reset, workerd's peak is this send's; else the larger of the sampled one and the lifetime peak.
      peak_mib: peakReset ? after.peak_mib : Math.max(sampledMib, before.rss_mib),
      peak_is_this_send: peakReset,
      sampled_peak_rss_mib: sampledMib,
      rss_before_mib: before.rss_mib,
    };
    const n = PROFILES.toLocaleString("en");
    return {
      figures: [
        {
          figure: `push campaign to a segment of ${n} profiles, create call to last delivery, local push service (send_rate ${SEND_RATE ?? "none"})`,
          targeted: ours.stats.targeted,
          arrived: `${ours.arrived} of ${PROFILES}`,
          to_201_ms: ours.to_201_ms,
          first_delivery_ms: ours.first_delivery_ms,
          last_delivery_ms: ours.last_delivery_ms,
          sent_state_ms: ours.sent_state_ms,
          deliveries_per_s: ours.per_s,
          yardstick_deliveries_per_s: yard.per_s,
          per_s_vs_yardstick: Math.round((ours.per_s / Math.max(1, yard.per_s)) * 1000) / 1000,
          worker_peak_mib: memory.peak_mib,
          worker_rss_before_mib: memory.rss_before_mib,
        },
        {
          figure: `campaign set-up, ${n} subscribers: SDK batches from ${ctx.env.connections} connections, then the projection`,
          subscribe_s: Math.round(made.seconds),
          subscribe_per_s: made.per_s,
          projected_after_s: projectedS,
        },
      ],
      costs: [cost],
      extra: {
        campaigns: {
          profiles: PROFILES,
          send_rate: SEND_RATE ?? null,
          subscribe: { seconds: made.seconds, per_s: made.per_s, retried: made.retried, projected_after_s: projectedS },
          ours,
          yardstick: yard,
          memory,
          sample: { verified: service.checked.verified, failed: service.checked.failed },
        },
      },
    };
  } finally {
    await service.close();
  }
}
