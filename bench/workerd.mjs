// Readings of the workerd processes behind a `wrangler dev`, shared by the benchmarks.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The workerd processes a `wrangler dev` process started, at any depth. */
export function workerdPids(wranglerPid) {
  const pids = [];
  const walk = (pid) => {
    const children = execFileSync("sh", ["-c", `pgrep -P ${pid} || true`], { encoding: "utf8" });
    for (const child of children.split("\n").filter(Boolean)) walk(child);
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd")) pids.push(pid);
    } catch {}
  };
  walk(wranglerPid);
  return pids;
}

/** Peak and current resident memory of the largest workerd process serving a Worker. */
export function memoryOf(wranglerPid) {
  let peak = 0;
  let current = 0;
  for (const pid of workerdPids(wranglerPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      current = Math.max(current, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {}
  }
  return { peak_mib: Math.round(peak / 1024), rss_mib: Math.round(current / 1024) };
}
