// Driving a Worker with autocannon, and alternating loads in rounds so that a machine getting
// faster or slower during a run weighs on every load alike.
import autocannon from "autocannon";

const round1 = (x) => (x < 1 ? +x.toFixed(2) : x < 10 ? +x.toFixed(1) : Math.round(x));

/**
 * POSTs `body()` (an object, sent as JSON, or a string) to `url + path` from `connections`
 * connections, for `duration` seconds or `amount` requests. `ops` is how many operations one
 * request carries, for operations/s. `exact: true` (with `amount`) sends them with fetch and
 * times the whole run to the millisecond: autocannon ends an `amount` run on its 1 s tick,
 * too coarse for a few requests of several seconds.
 */
export function load(options) {
  return options.exact ? exactLoad(options) : autocannonLoad(options);
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;

async function exactLoad({ name, url, path = "/", headers = {}, body, ops = 1, connections, amount, timeout = 60 }) {
  const latencies = [];
  let sent = 0;
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  const connection = async () => {
    while (sent < amount) {
      sent++;
      const b = body();
      const t = performance.now();
      try {
        const res = await fetch(`${url}${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...headers },
          body: typeof b === "string" ? b : JSON.stringify(b),
          signal: AbortSignal.timeout(timeout * 1000),
        });
        await res.arrayBuffer();
        if (res.status >= 300) non2xx++;
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, connection));
  const seconds = (performance.now() - start) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const perSecond = latencies.length / seconds;
  return {
    scenario: name,
    connections,
    requests_per_s: round1(perSecond),
    operations_per_s: round1(perSecond * ops),
    exact_requests_per_s: perSecond,
    p50_ms: Math.round(percentile(sorted, 0.5)),
    p99_ms: Math.round(percentile(sorted, 0.99)),
    non_2xx: non2xx,
    errors,
    total: latencies.length,
    seconds: +seconds.toFixed(2),
    ops_per_request: ops,
  };
}

function autocannonLoad({
  name,
  url,
  path = "/",
  headers = {},
  body,
  ops = 1,
  connections,
  duration,
  amount,
  timeout = 60,
}) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        timeout,
        ...(amount ? { amount } : { duration }),
        requests: [
          {
            method: "POST",
            path,
            headers: { "Content-Type": "application/json", ...headers },
            setupRequest: (req) => {
              const b = body();
              return { ...req, body: typeof b === "string" ? b : JSON.stringify(b) };
            },
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err);
        const perSecond = r.requests.total / r.duration;
        resolve({
          scenario: name,
          connections,
          requests_per_s: round1(perSecond),
          operations_per_s: round1(perSecond * ops),
          exact_requests_per_s: perSecond,
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          non_2xx: r.non2xx,
          errors: r.errors + r.timeouts,
          total: r.requests.total,
          seconds: r.duration,
          ops_per_request: ops,
        });
      },
    );
  });
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/**
 * Runs each of `loads` (functions returning a `load` row) once per round, `rounds` times, in
 * turn. Requests/s is over all rounds; p50 is the median round's, p99 the worst round's.
 */
export async function interleaved(loads, rounds) {
  const runs = loads.map(() => []);
  for (let k = 0; k < rounds; k++) {
    for (const [i, run] of loads.entries()) runs[i].push(await run(k));
  }
  return runs.map((rows) => {
    const total = rows.reduce((n, r) => n + r.total, 0);
    const seconds = rows.reduce((n, r) => n + r.seconds, 0);
    const perSecond = total / seconds;
    return {
      scenario: rows[0].scenario,
      connections: rows[0].connections,
      requests_per_s: round1(perSecond),
      operations_per_s: round1(perSecond * rows[0].ops_per_request),
      exact_requests_per_s: perSecond,
      p50_ms: median(rows.map((r) => r.p50_ms)),
      p99_ms: Math.max(...rows.map((r) => r.p99_ms)),
      non_2xx: rows.reduce((n, r) => n + r.non_2xx, 0),
      errors: rows.reduce((n, r) => n + r.errors, 0),
      total,
      seconds: +seconds.toFixed(1),
      ops_per_request: rows[0].ops_per_request,
      rounds: rows.map((r) => r.requests_per_s),
    };
  });
}

/** Milliseconds `fn` takes, and its value. */
export async function timed(fn) {
  const t = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t), value };
}

export { median };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
