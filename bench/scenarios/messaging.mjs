// Transactional push (SPEC §10, "Reach people"): BENCH_MESSAGE_RECIPIENTS (10,000) web push
// subscribers on a local push service (bench/lib/push-service.mjs), each an installation signed
// in to a custom ID of its own, sent one message through `POST /v1/messages/transactional` by
// their custom IDs (at most 10,000 a call: several calls past that). Reported: the time to the
// 201 (the last call's), to the first and the last delivery, to `done` (the message's
// `completed_at`, read once it is done: nothing polls edge-cdp while the send is metered), and
// the deliveries a second (from the first call to the last delivery), beside the yardstick
// Worker's `/push` (bench/baseline/worker.ts): the same number of the same payloads, each
// encrypted (aes128gcm) and signed (VAPID) as edge-cdp does, POSTed to the same push service
// through a queue of edge-cdp's settings, pieces of 25, 6 in flight a piece. Metered: billable
// units per 1,000 deliveries. `ctx` comes from bench/run.mjs;
// the app runs with ALLOW_HTTP_WEBHOOKS on (a 127.0.0.1 endpoint is allowed) and a
// CHANNEL_SECRET_KEY (the project's VAPID key is stored with it).
import { sleep } from "../lib/load.mjs";
import { arrivals, startPushService, untilArrived, yardstickPush } from "../lib/push-service.mjs";
import { subscribedProject } from "../lib/subscribers.mjs";

const RECIPIENTS = Number(process.env.BENCH_MESSAGE_RECIPIENTS ?? 10_000);
/** Custom IDs a transactional call names at most (SPEC §10). */
const PER_CALL = 10_000;

const message = { title: "Your order has shipped", body: "It will be with you on Thursday. Track it in the app." };

/**
 * One transactional send to `customIds`, from the first call to the last delivery. Nothing
 * polls edge-cdp meanwhile (the metered run would count the polls): the deliveries are counted
 * at the push service, and `done` is read afterwards, as each message's `completed_at`.
 */
async function sendAll(ctx, bench, service, customIds) {
  service.reset("wp");
  const t0 = performance.now();
  const wall = Date.now();
  const tokens = [];
  let answeredMs = 0;
  for (let k = 0; k < customIds.length; k += PER_CALL) {
    const body = { group_id: "bench-orders", recipients: { custom_ids: customIds.slice(k, k + PER_CALL) }, message };
    const { token } = await ctx.api("POST", "/v1/messages/transactional", body, bench.rest);
    answeredMs = Math.round(performance.now() - t0);
    tokens.push(token);
  }
  const seen = await untilArrived(service, "wp", customIds.length, { quietMs: 20_000 });
  return {
    tokens,
    wall,
    calls: tokens.length,
    to_201_ms: answeredMs,
    ...arrivals(seen, t0),
  };
}

/** Each message's status once it is done (waits for it): the sums, and `done` from the first call. */
async function statusOf(ctx, bench, send, timeoutMs = 600_000) {
  const totals = { sent: 0, errors: 0, tokens_deleted: 0, unreachable: 0 };
  let completed = 0;
  const started = performance.now();
  for (const token of send.tokens) {
    let m = await ctx.api("GET", `/v1/messages/${token}`, undefined, bench.rest);
    while (m.status !== "done" && performance.now() - started < timeoutMs) {
      await sleep(500);
      m = await ctx.api("GET", `/v1/messages/${token}`, undefined, bench.rest);
    }
    for (const k of Object.keys(totals)) totals[k] += m[k] ?? 0;
    completed = m.completed_at ? Math.max(completed, Date.parse(m.completed_at)) : Number.NaN;
  }
  return { ...totals, done_ms: Number.isNaN(completed) ? null : completed - send.wall };
}

export async function run(ctx) {
  const service = await startPushService(ctx.ports.app + 20);
  try {
    const { bench, made } = await subscribedProject(ctx, service, "bench-messaging", "msg", RECIPIENTS);

    // A first send to one person: the project's channels and the consumer's code are loaded.
    await sendAll(ctx, bench, service, made.customIds.slice(0, 1));

    const { value: sent, cost } = await ctx.meter.measure(
      {
        name: `transactional web push to ${RECIPIENTS.toLocaleString("en")} custom IDs (a local push service)`,
        unit: "delivery",
        operations: RECIPIENTS,
      },
      () => sendAll(ctx, bench, service, made.customIds),
    );
    const { tokens, wall, ...ours } = { ...sent, ...(await statusOf(ctx, bench, sent)) };
    await sleep(2000);
    // The yardstick: a warm-up piece, then the same number of bodies of the same size.
    // The payload edge-cdp's service worker reads (src/messaging/channels/webpush.ts).
    const payload = JSON.stringify({ ...message, transactional_token: tokens[0] });
    await yardstickPush(ctx, service, 25, payload);
    const yard = await yardstickPush(ctx, service, RECIPIENTS, payload);
    const sample = { verified: service.checked.verified, failed: service.checked.failed };

    return {
      figures: [
        {
          figure: `transactional web push to ${RECIPIENTS.toLocaleString("en")} installations' custom IDs, local push service (${ours.calls} call${ours.calls > 1 ? "s" : ""})`,
          arrived: `${ours.arrived} of ${RECIPIENTS}`,
          to_201_ms: ours.to_201_ms,
          first_delivery_ms: ours.first_delivery_ms,
          last_delivery_ms: ours.last_delivery_ms,
          done_ms: ours.done_ms,
          sent: ours.sent,
          errors: ours.errors,
          deliveries_per_s: ours.per_s,
          yardstick_deliveries_per_s: yard.per_s,
          per_s_vs_yardstick: Math.round((ours.per_s / Math.max(1, yard.per_s)) * 1000) / 1000,
          sample_decrypted: `${sample.verified} (${sample.failed} failed)`,
        },
      ],
      costs: [cost],
      extra: {
        messaging: {
          recipients: RECIPIENTS,
          subscribe: { seconds: made.seconds, per_s: made.per_s, retried: made.retried },
          ours,
          yardstick: yard,
          sample: { ...sample, payloads: service.checked.payloads },
        },
      },
    };
  } finally {
    await service.close();
  }
}
