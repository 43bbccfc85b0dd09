// Webhooks: how many deliveries a second reach a local receiver, and how long after an SDK
// batch's 2xx answer its event's delivery arrives (p50, p99), beside the yardstick Worker's
// `/hook` (bench/baseline/worker.ts), which answers, then POSTs the same bodies itself: the
// least a Worker that delivers a body it was given costs. `ctx` comes from bench/run.mjs; the
// app runs with ALLOW_HTTP_WEBHOOKS on, so a receiver on 127.0.0.1 is allowed.
import { createServer } from "node:http";

const PROBES = Number(process.env.BENCH_WEBHOOK_PROBES ?? 100);
const PROBE_GAP_MS = Number(process.env.BENCH_WEBHOOK_PROBE_GAP_MS ?? 100);
const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
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

const sdkBody = (installation, name, probe) => ({
  installation_id: installation,
  ops: [{ id: `wh-${probe}`, type: "event", name, attributes: { probe } }],
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

    // 1. Latency, edge-cdp: one probe at a time, from the batch's 2xx answer to the delivery.
    const answered = new Map();
    const probes = [];
    for (let k = 0; k < PROBES; k++) {
      const probe = `p${k}-${crypto.randomUUID()}`;
      probes.push(probe);
      await api("POST", "/v1/sdk/batch", sdkBody(installations[k % installations.length], "wh_probe", probe), sdk);
      answered.set(probe, performance.now());
      await sleep(PROBE_GAP_MS);
    }
    const probesArrived = await arrived(receiver, probes);
    const oursLatency = quantiles(
      probes.filter((p) => receiver.seen.has(p)).map((p) => receiver.seen.get(p) - answered.get(p)),
    );
    const probeBodies = receiver.posts.filter((p) => !p.yardstick).map((p) => p.body);

    // 2. Throughput, edge-cdp: EVENTS batches of one event each from `connections` connections.
    await sleep(3000);
    const floodFrom = receiver.posts.length;
    const flood = Array.from({ length: EVENTS }, (_, k) => `f${k}-${crypto.randomUUID()}`);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      installations.map(async (installation) => {
        while (next < flood.length) {
          const probe = flood[next++];
          await api("POST", "/v1/sdk/batch", sdkBody(installation, "wh_flood", probe), sdk);
        }
      }),
    );
    const sentMs = performance.now() - t0;
    const floodArrived = await arrived(receiver, flood);
    const floodPosts = receiver.posts.slice(floodFrom).filter((p) => !p.yardstick && p.items > 0);
    const lastOurs = Math.max(...flood.map((p) => receiver.seen.get(p) ?? 0));
    const oursSpanS = (lastOurs - t0) / 1000;
    const ours = {
      posts_per_s: Math.round((floodPosts.length / oursSpanS) * 10) / 10,
      items_per_s: Math.round(floodArrived / oursSpanS),
      items_per_post: Math.round((floodArrived / Math.max(1, floodPosts.length)) * 10) / 10,
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
    const yardAnswered = new Map();
    const yardProbes = [];
    for (let k = 0; k < PROBES; k++) {
      const mark = `q${k}-${crypto.randomUUID()}`;
      yardProbes.push(mark);
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
    const yardLatency = quantiles(
      yardProbes.filter((p) => receiver.seen.has(p)).map((p) => receiver.seen.get(p) - yardAnswered.get(p)),
    );

    const figures = [
      {
        figure: `webhook latency, SDK batch's answer to its event's delivery, ${PROBES} batches ${PROBE_GAP_MS} ms apart`,
        arrived: `${probesArrived} of ${PROBES}`,
        ...oursLatency,
        yardstick_p50_ms: yardLatency.p50_ms,
        yardstick_p99_ms: yardLatency.p99_ms,
      },
      {
        figure: `webhook deliveries to a local receiver, ${EVENTS.toLocaleString("en")} SDK batches of one event from ${installations.length} connections`,
        arrived: `${floodArrived} of ${EVENTS}`,
        sent_in_ms: Math.round(sentMs),
        ...ours,
        yardstick_posts_per_s: yardstick.posts_per_s,
        yardstick_items_per_s: yardstick.items_per_s,
        items_per_s_vs_yardstick: Math.round((ours.items_per_s / Math.max(1, yardstick.items_per_s)) * 100) / 100,
      },
    ];
    return {
      figures,
      extra: { webhooks: { latency: oursLatency, yardstick_latency: yardLatency, ours, yardstick } },
    };
  } finally {
    receiver.close();
  }
}
