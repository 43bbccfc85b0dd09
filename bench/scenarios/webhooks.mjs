// Webhooks: how many deliveries a second reach a local receiver, and how long after an SDK
// batch's 2xx answer its event's delivery arrives (p50, p99), beside the yardstick Worker's
// `/hook` (bench/baseline/worker.ts), which answers, then POSTs the same bodies itself: the
// least a Worker that delivers a body it was given costs. `ctx` comes from bench/run.mjs; the
// app runs with ALLOW_HTTP_WEBHOOKS on, so a receiver on 127.0.0.1 is allowed.
import { createServer } from "node:http";

const PROBES = Number(process.env.BENCH_WEBHOOK_PROBES ?? 100);
const PROBE_GAP_MS = Number(process.env.BENCH_WEBHOOK_PROBE_GAP_MS ?? 100);
const BATCHES = Number(process.env.BENCH_WEBHOOK_BATCHES ?? 500);
/** Events a flood batch carries: enough that the pipeline, not the SDK path, has work to do. */
const EVENTS_PER_BATCH = Number(process.env.BENCH_WEBHOOK_EVENTS_PER_BATCH ?? 20);
const WAIT_S = Number(process.env.BENCH_WEBHOOK_WAIT ?? 120);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
const quantiles = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50_ms: Math.round(percentile(sorted, 0.5)),
    p99_ms: Math.round(percentile(sorted, 0.99)),
  };
};

/**
 * A receiver in this process: answers 200 at once, and notes when each POST arrived, its body,
 * and the probe marker of each item (an event's `probe` attribute, or the yardstick's header).
 */
async function startReceiver() {
  const posts = [];
  const seen = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const header = req.headers["x-bench-probe"];
      const probes = [];
      if (header) probes.push(String(header));
      else {
        try {
          for (const item of JSON.parse(body).items ?? []) {
            const probe = item.data?.attributes?.probe;
            if (probe) probes.push(probe);
          }
        } catch {}
      }
      for (const p of probes) if (!seen.has(p)) seen.set(p, at);
      posts.push({ at, body, yardstick: Boolean(header), items: probes.length });
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, posts, seen, close: () => server.close() };
}

/** Waits until every probe has arrived, or the wait is over; answers how many did. */
async function arrived(receiver, probes) {
  const deadline = performance.now() + WAIT_S * 1000;
  for (;;) {
    const n = probes.filter((p) => receiver.seen.has(p)).length;
    if (n === probes.length || performance.now() > deadline) return n;
    await sleep(100);
  }
}

const sdkBody = (installation, name, probes) => ({
  installation_id: installation,
  ops: probes.map((probe) => ({ id: `wh-${probe}`, type: "event", name, attributes: { probe } })),
});

export async function run(ctx) {
  const { api, rest, sdk } = ctx;
  const receiver = await startReceiver();
  try {
    await api("POST", "/v1/webhooks", { url: receiver.url, topics: ["event.wh_probe", "event.wh_flood"] }, rest);
    const installations = Array.from({ length: ctx.env.connections }, () => crypto.randomUUID());
    // Each installation's first batch makes its object and profile: not what is measured.
    for (const i of installations)
      await api(
        "POST",
        "/v1/sdk/batch",
        { installation_id: i, ops: [{ id: crypto.randomUUID(), type: "attributes", attributes: { warm: true } }] },
        sdk,
      );

    // 1. Latency, edge-cdp: one probe at a time, from the batch's 2xx answer (and from its
    // request) to the delivery.
    const sent = new Map();
    const answered = new Map();
    const probes = [];
    for (let k = 0; k < PROBES; k++) {
      const probe = `p${k}-${crypto.randomUUID()}`;
      probes.push(probe);
      sent.set(probe, performance.now());
      await api("POST", "/v1/sdk/batch", sdkBody(installations[k % installations.length], "wh_probe", [probe]), sdk);
      answered.set(probe, performance.now());
      await sleep(PROBE_GAP_MS);
    }
    const probesArrived = await arrived(receiver, probes);
    const reached = probes.filter((p) => receiver.seen.has(p));
    const oursLatency = quantiles(reached.map((p) => receiver.seen.get(p) - answered.get(p)));
    const oursFromRequest = quantiles(reached.map((p) => receiver.seen.get(p) - sent.get(p)));
    const probeBodies = receiver.posts.filter((p) => !p.yardstick).map((p) => p.body);

    // 2. Throughput, edge-cdp: BATCHES batches of EVENTS_PER_BATCH events from `connections`
    // connections; deliveries and items a second from the first request to the last arrival.
    await sleep(3000);
    const floodFrom = receiver.posts.length;
    const flood = Array.from({ length: BATCHES }, (_, k) =>
      Array.from({ length: EVENTS_PER_BATCH }, (_, e) => `f${k}.${e}-${crypto.randomUUID()}`),
    );
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      installations.map(async (installation) => {
        while (next < flood.length) {
          const probes = flood[next++];
          await api("POST", "/v1/sdk/batch", sdkBody(installation, "wh_flood", probes), sdk);
        }
      }),
    );
    const sentMs = performance.now() - t0;
    const items = flood.flat();
    const floodArrived = await arrived(receiver, items);
    const floodPosts = receiver.posts.slice(floodFrom).filter((p) => !p.yardstick && p.items > 0);
    const lastOurs = Math.max(...items.map((p) => receiver.seen.get(p) ?? 0));
    const oursSpanS = (lastOurs - t0) / 1000;
    const ours = {
      posts_per_s: Math.round((floodPosts.length / oursSpanS) * 10) / 10,
      items_per_s: Math.round(floodArrived / oursSpanS),
      items_per_post: Math.round((floodArrived / Math.max(1, floodPosts.length)) * 10) / 10,
      events_accepted_per_s: Math.round(items.length / (sentMs / 1000)),
      last_delivery_after_last_answer_ms: Math.round(lastOurs - t0 - sentMs),
    };

    // 3. Throughput, yardstick: the same bodies, each POSTed by the yardstick Worker.
    await sleep(3000);
    const bodies = floodPosts.map((p) => p.body);
    const marks = bodies.map((_, k) => `y${k}-${crypto.randomUUID()}`);
    const t1 = performance.now();
    let y = 0;
    await Promise.all(
      installations.map(async () => {
        while (y < bodies.length) {
          const k = y++;
          await fetch(`${ctx.urls.base}/hook?to=${encodeURIComponent(receiver.url)}`, {
            method: "POST",
            headers: { "Content-Type": "application/json", "X-Bench-Probe": marks[k] },
            body: bodies[k],
          }).then((r) => r.arrayBuffer());
        }
      }),
    );
    const yardArrived = await arrived(receiver, marks);
    const lastYard = Math.max(...marks.map((m) => receiver.seen.get(m) ?? 0));
    const yardSpanS = (lastYard - t1) / 1000;
    const yardstick = {
      posts_per_s: Math.round((yardArrived / yardSpanS) * 10) / 10,
      items_per_s: Math.round((yardArrived * ours.items_per_post) / yardSpanS),
    };

    // 4. Latency, yardstick: the probes' bodies, one at a time, from its answer to the arrival.
    const yardSent = new Map();
    const yardAnswered = new Map();
    const yardProbes = [];
    for (let k = 0; k < PROBES; k++) {
      const mark = `q${k}-${crypto.randomUUID()}`;
      yardProbes.push(mark);
      yardSent.set(mark, performance.now());
      const res = await fetch(`${ctx.urls.base}/hook?to=${encodeURIComponent(receiver.url)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Bench-Probe": mark },
        body: probeBodies[k % Math.max(1, probeBodies.length)] ?? "{}",
      });
      await res.arrayBuffer();
      yardAnswered.set(mark, performance.now());
      await sleep(PROBE_GAP_MS);
    }
    await arrived(receiver, yardProbes);
    const yardReached = yardProbes.filter((p) => receiver.seen.has(p));
    const yardLatency = quantiles(yardReached.map((p) => receiver.seen.get(p) - yardAnswered.get(p)));
    const yardFromRequest = quantiles(yardReached.map((p) => receiver.seen.get(p) - yardSent.get(p)));

    const figures = [
      {
        figure: `webhook latency, SDK batch of one event to its delivery, ${PROBES} batches ${PROBE_GAP_MS} ms apart`,
        arrived: `${probesArrived} of ${PROBES}`,
        from_answer_p50_ms: oursLatency.p50_ms,
        from_answer_p99_ms: oursLatency.p99_ms,
        from_request_p50_ms: oursFromRequest.p50_ms,
        from_request_p99_ms: oursFromRequest.p99_ms,
        // The yardstick answers, then POSTs: its delivery can reach the receiver before the
        // bench has read the answer, so its "from answer" can be at or below zero.
        yardstick_from_answer_p50_ms: yardLatency.p50_ms,
        yardstick_from_request_p50_ms: yardFromRequest.p50_ms,
        yardstick_from_request_p99_ms: yardFromRequest.p99_ms,
      },
      {
        figure: `webhook deliveries to a local receiver, ${BATCHES.toLocaleString("en")} SDK batches of ${EVENTS_PER_BATCH} events from ${installations.length} connections`,
        arrived: `${floodArrived} of ${items.length}`,
        sent_in_ms: Math.round(sentMs),
        ...ours,
        yardstick_posts_per_s: yardstick.posts_per_s,
        yardstick_items_per_s: yardstick.items_per_s,
        posts_per_s_vs_yardstick: Math.round((ours.posts_per_s / Math.max(0.1, yardstick.posts_per_s)) * 1000) / 1000,
      },
    ];
    return {
      figures,
      extra: {
        webhooks: {
          latency_from_answer: oursLatency,
          latency_from_request: oursFromRequest,
          yardstick_latency_from_answer: yardLatency,
          yardstick_latency_from_request: yardFromRequest,
          ours,
          yardstick,
        },
      },
    };
  } finally {
    receiver.close();
  }
}
