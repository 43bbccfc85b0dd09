// Audience replace of BENCH_AUDIENCE custom IDs streamed as CSV. The yardstick inserts the same
// rows into the same table on its own D1, batched as edge-cdp's replace writes them (10,000 IDs a
// statement as a JSON array, 5 statements a D1 batch, src/audiences/members.ts), then deletes
// older generations. The first edge-cdp replace is metered (nothing else runs meanwhile).
import { timed } from "../lib/load.mjs";
import { target } from "../lib/report.mjs";

function csv(n) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      const lines = [];
      for (let k = 0; k < 10_000 && i < n; k++) lines.push(`user-${String(++i).padStart(9, "0")}`);
      if (lines.length) controller.enqueue(new TextEncoder().encode(`${lines.join("\n")}\n`));
      if (i >= n) controller.close();
    },
  });
}

async function put(url, headers, n) {
  const res = await fetch(url, {
    method: "PUT",
    headers: { ...headers, "Content-Type": "text/csv" },
    body: csv(n),
    duplex: "half",
  });
  const text = await res.text();
  return { status: res.status, body: text.slice(0, 300) };
}

export async function run(ctx) {
  const { env, project } = ctx;
  const n = env.audience;
  await ctx.api("POST", "/v1/audiences", { name: "bench_audience", type: "custom_ids" }, ctx.rest).catch(() => null);
  const app = [];
  const base = [];
  const costs = [];
  for (let r = 0; r < env.audienceRounds; r++) {
    base.push(
      await timed(() => put(`${ctx.urls.base}/audience?project=${project.project_id}&generation=${r + 1}`, {}, n)),
    );
    const { value, cost } = await ctx.meter.measure(
      { name: `audience replace, ${n.toLocaleString("en")} IDs`, unit: "audience member", operations: n },
      () => timed(() => put(`${ctx.urls.app}/v1/audiences/bench_audience`, ctx.rest, n)),
    );
    app.push(value);
    if (r === 0) costs.push(cost);
  }
  const audience = await ctx
    .api("GET", "/v1/audiences/bench_audience", undefined, ctx.rest)
    .catch((e) => ({ error: String(e) }));
  const worst = Math.max(...app.map((t) => t.ms));
  const answered = app.every((t) => t.value.status < 300);
  return {
    figures: [
      {
        figure: `audience replace, ${n.toLocaleString("en")} IDs streamed as CSV`,
        ms: app.map((t) => t.ms),
        yardstick_ms: base.map((t) => t.ms),
        x_yardstick: +(worst / Math.max(...base.map((t) => t.ms), 1)).toFixed(2),
        status: app.map((t) => t.value.status),
        yardstick_status: base.map((t) => t.value.status),
        size: audience.size,
        worker_memory: ctx.memoryOf("app"),
      },
    ],
    targets: { audience_replace_1m_ms: target(answered ? worst : null, "<=", 15_000, " ms") },
    costs,
  };
}
