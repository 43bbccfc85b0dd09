// The Worker's own JavaScript heap, read through the inspector `wrangler dev` opens: the figure
// that Cloudflare's 128 MB per-isolate limit applies to. The workerd process's resident memory
// (bench/workerd.mjs) also holds the local D1, R2 and Queues simulators, so it says little here.
// The same connection takes a CPU profile (`cpuProfiler`).

/** A Chrome DevTools Protocol connection to the inspector on `port`: `call(method, params)` answers the result. */
async function connect(port) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Origin: `http://127.0.0.1:${port}` } });
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`no inspector on port ${port}`));
  });
  let next = 0;
  const waiting = new Map();
  socket.onmessage = (message) => {
    const reply = JSON.parse(message.data);
    waiting.get(reply.id)?.(reply.result);
    waiting.delete(reply.id);
  };
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => socket.close() };
}

/**
 * Connects to the inspector on `port` and samples `Runtime.getHeapUsage` every `everyMs`; every
 * `collectEvery`th sample first asks for a full garbage collection (1: every sample, so a short
 * peak is not missed between collections). `peak()` is the largest used heap seen, garbage
 * included (what V8 had not yet collected), and `livePeak()` the largest heap right after a
 * collection: what the Worker actually held. Both in MiB; `stop()` closes the connection.
 */
export async function heapSampler(port, { everyMs = 100, collectEvery = 10 } = {}) {
  const { call, close } = await connect(port);
  const usedBytes = async () => (await call("Runtime.getHeapUsage"))?.usedSize ?? 0;
  let peak = await usedBytes();
  let livePeak = peak;
  let busy = false;
  let samples = 0;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    peak = Math.max(peak, await usedBytes());
    if (++samples % collectEvery === 0) {
      await call("HeapProfiler.collectGarbage");
      livePeak = Math.max(livePeak, await usedBytes());
    }
    busy = false;
  }, everyMs);
  const mib = (bytes) => +(bytes / 1048576).toFixed(1);
  return {
    now: async () => mib(await usedBytes()),
    peak: () => mib(Math.max(peak, livePeak)),
    livePeak: () => mib(livePeak),
    stop: () => {
      clearInterval(timer);
      close();
    },
  };
}

/**
 * Starts the V8 CPU profiler of the Worker behind the inspector on `port` (its isolate: under
 * `wrangler dev` the Worker, its Durable Objects and its queue consumers). `stop()` answers the
 * profile (`.cpuprofile` JSON, for Chrome DevTools or bench/profile-summary.mjs). The profiler
 * samples wall time on the isolate's thread: a native call that blocks (a commit's fsync) counts.
 */
export async function cpuProfiler(port, intervalUs = 200) {
  const { call, close } = await connect(port);
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: intervalUs });
  await call("Profiler.start");
  return {
    stop: async () => {
      const { profile } = await call("Profiler.stop");
      close();
      return profile;
    },
  };
}
