// The Worker's own JavaScript heap, read through the inspector `wrangler dev` opens: the figure
// that Cloudflare's 128 MB per-isolate limit applies to. The workerd process's resident memory
// (bench/workerd.mjs) also holds the local D1, R2 and Queues simulators, so it says little here.

/**
 * Connects to the inspector on `port` and samples `Runtime.getHeapUsage` every `everyMs`.
 * `peak()` is the largest used heap seen, in MiB; `stop()` closes the connection.
 */
export async function heapSampler(port, everyMs = 100) {
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
  const usedBytes = () =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, (result) => resolve(result?.usedSize ?? 0));
      socket.send(JSON.stringify({ id, method: "Runtime.getHeapUsage" }));
    });
  let peak = await usedBytes();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    peak = Math.max(peak, await usedBytes());
    busy = false;
  }, everyMs);
  const mib = (bytes) => +(bytes / 1048576).toFixed(1);
  return {
    now: async () => mib(await usedBytes()),
    peak: () => mib(peak),
    stop: () => {
      clearInterval(timer);
      socket.close();
    },
  };
}
