// The billable units edge-cdp counts when it runs with `--var METER:on`: GET /v1/admin/meter
// answers {units: {worker_requests, do_rows_written, ...}, since}, POST /v1/admin/meter/reset
// zeroes them, and both answer 404 when the meter is off. A metered run resets, does its work,
// waits until the work it left behind (queue consumers) has landed, and reads the units.
import { PRICES, priceOf } from "./prices.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `tailMs`: how long a metered window stays open with nothing moving, before its reset and after
 * its work. An object forgets what its outbox sent once it has been quiet for 10 s
 * (OUTBOX_QUIET_MS, src/identity/outbox.ts): a shorter wait left a call's own last row out and
 * let the row of a call before the window in, by chance of timing.
 */
export function createMeter(
  url,
  adminHeaders,
  { quietMs = 2000, tailMs = 11_000, pollMs = 500, maxWaitMs = 180_000 } = {},
) {
  const get = async () => {
    const res = await fetch(`${url}/v1/admin/meter`, { headers: adminHeaders });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`GET /v1/admin/meter: ${res.status} ${(await res.text()).slice(0, 200)}`);
    return (await res.json()).units;
  };
  const reset = async () => {
    const res = await fetch(`${url}/v1/admin/meter/reset`, { method: "POST", headers: adminHeaders });
    if (!res.ok) throw new Error(`POST /v1/admin/meter/reset: ${res.status} ${(await res.text()).slice(0, 200)}`);
  };

  // What the meter's own reset and reads add to its counters (a read is a Worker request, and
  // may be counted): measured once in a quiet moment, then subtracted from every reading.
  let afterReset = {};
  let perRead = {};
  let reads = 0;
  const read = async () => {
    const units = await get();
    reads++;
    const own = {};
    for (const k of Object.keys(units)) {
      own[k] = Math.max(0, units[k] - (afterReset[k] ?? 0) - (perRead[k] ?? 0) * (reads - 1));
    }
    return own;
  };
  const same = (a, b) => Object.keys({ ...a, ...b }).every((k) => (a[k] ?? 0) === (b[k] ?? 0));

  /** Waits until the counters have not moved for `still` ms: the queues have drained. */
  const waitQuiet = async (still = quietMs) => {
    const start = Date.now();
    let last = await read();
    let stillSince = Date.now();
    while (Date.now() - stillSince < still) {
      if (Date.now() - start > maxWaitMs) return { units: last, settled: false };
      await sleep(pollMs);
      const now = await read();
      if (!same(now, last)) {
        last = now;
        stillSince = Date.now();
      }
    }
    return { units: last, settled: true };
  };

  const meter = {
    available: false,
    /** Checks the meter answers, and measures what its own calls add. */
    async init() {
      if ((await get()) === null) return false;
      await waitQuiet();
      await reset();
      reads = 0;
      afterReset = {};
      perRead = {};
      const first = await get();
      const second = await get();
      const third = await get();
      afterReset = first;
      for (const k of Object.keys(third)) perRead[k] = Math.max(0, ((third[k] ?? 0) - (first[k] ?? 0)) / 2);
      void second;
      meter.available = true;
      return true;
    },
    /** Waits until the counters have not moved for a while (nothing when the meter is off). */
    settle: () => (meter.available ? waitQuiet() : Promise.resolve({ units: {}, settled: false })),
    /**
     * Meters `fn` on its own: waits for quiet (`tailMs`), resets, runs it, waits until what it
     * left behind has landed (`tailMs` again), reads. Returns what `fn` returned and a cost row per 1,000 of `unit`
     * (`operations` of them in `fn`); the cost is null when the meter is off (`fn` still runs).
     */
    async measure({ name, unit, operations }, fn) {
      if (!meter.available) return { value: await fn(), cost: null };
      await waitQuiet(tailMs);
      await reset();
      reads = 0;
      const started = Date.now();
      const value = await fn();
      const { units, settled } = await waitQuiet(tailMs);
      const per1000 = {};
      for (const [k, n] of Object.entries(units)) if (n) per1000[k] = +((n * 1000) / operations).toFixed(2);
      const { dollars, unpriced } = priceOf(units);
      const cost = {
        cost: name,
        unit,
        operations,
        units,
        per_1000: per1000,
        dollars_per_million: +((dollars * 1_000_000) / operations).toFixed(2),
        unpriced,
        settled,
        seconds: Math.round((Date.now() - started) / 1000),
      };
      return { value, cost };
    },
  };
  return meter;
}

export { PRICES };
