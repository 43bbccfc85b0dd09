// CPU time of the workerd processes behind a `wrangler dev`, read from /proc: steadier than
// requests/s on a shared machine, and it shows where the time goes.
import { readdirSync, readFileSync } from "node:fs";
import { workerdPids } from "../workerd.mjs";

/** CPU time, in ticks of 10 ms, of each thread of the workerd processes serving a Worker. */
export function cpuTicks(wranglerPid) {
  const ticks = new Map();
  for (const pid of workerdPids(wranglerPid)) {
    try {
      for (const thread of readdirSync(`/proc/${pid}/task`)) {
        const fields = readFileSync(`/proc/${pid}/task/${thread}/stat`, "utf8").split(") ")[1].split(" ");
        ticks.set(`${pid}/${thread}`, Number(fields[11]) + Number(fields[12]));
      }
    } catch {}
  }
  return ticks;
}

/**
 * Milliseconds of CPU per request over readings taken around loads (`before`, `after`): all
 * workerd threads together, and the busiest thread.
 */
export function cpuPerRequest(readings, requests) {
  const byThread = new Map();
  for (const { before, after } of readings) {
    for (const [thread, ticks] of after) {
      byThread.set(thread, (byThread.get(thread) ?? 0) + ticks - (before.get(thread) ?? 0));
    }
  }
  const deltas = [...byThread.values()];
  const ms = (ticks) => +((ticks * 10) / Math.max(requests, 1)).toFixed(2);
  return { workerd_ms: ms(deltas.reduce((a, b) => a + b, 0)), busiest_thread_ms: ms(Math.max(0, ...deltas)) };
}

/** Runs `fn` and adds a CPU reading of the Worker behind `wranglerPid` around it to `into`. */
export async function withCpu(into, wranglerPid, fn) {
  const before = cpuTicks(wranglerPid);
  const value = await fn();
  into.push({ before, after: cpuTicks(wranglerPid) });
  return value;
}
