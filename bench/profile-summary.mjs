// `node bench/profile-summary.mjs <file.cpuprofile> [bundle dir]`: the busiest functions of a CPU
// profile taken by `BENCH_CPU_PROFILE=1` (bench/scenarios/sdk-warm.mjs), by self and by total
// time, and the same by module (ours by src/<folder>, libraries by package, the runtime's own).
// Positions are mapped to the sources through the dev bundle's source map, kept beside the
// profile as <file>.bundle/ (without it, bundle lines are shown).
import { readFileSync } from "node:fs";

const [file, bundleDir = `${file}.bundle`] = process.argv.slice(2);
if (!file) throw new Error("usage: node bench/profile-summary.mjs <file.cpuprofile> [bundle dir]");
const profile = JSON.parse(readFileSync(file, "utf8"));
const TOP = Number(process.env.TOP ?? 25);

let original = null;
try {
  // wrangler's own dependency; optional here.
  const { TraceMap, originalPositionFor } = await import("@jridgewell/trace-mapping");
  const map = new TraceMap(readFileSync(`${bundleDir}/index.js.map`, "utf8"));
  original = (line, column) => originalPositionFor(map, { line, column });
} catch {
  console.error("no source map: positions are bundle lines");
}

const nameOf = (node) => {
  const f = node.callFrame;
  const fn = f.functionName || "(anonymous)";
  if (f.url === "index.js" && original) {
    const o = original(f.lineNumber + 1, f.columnNumber);
    if (o.source) return `${fn} ${o.source.replace(/^.*?(src\/|node_modules\/)/, "$1")}:${o.line}`;
  }
  return f.url ? `${fn} ${f.url}:${f.lineNumber + 1}` : fn;
};
const moduleOf = (name) => {
  const ours = / src\/([^/:]+)/.exec(name);
  if (ours) return `src/${ours[1]}`;
  const lib = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(name);
  if (lib) return lib[1];
  return /^\((idle|program|garbage collector)\)$/.test(name) ? name : "runtime (native)";
};

const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const names = new Map(profile.nodes.map((n) => [n.id, nameOf(n)]));
const tallies = { self: new Map(), total: new Map(), moduleSelf: new Map(), moduleTotal: new Map() };
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
let busy = 0;
let idle = 0;
profile.samples.forEach((id, k) => {
  // A sample lasts until the next one.
  const us = profile.timeDeltas[k + 1] ?? 0;
  const name = names.get(id);
  if (name === "(idle)") {
    idle += us;
    return;
  }
  busy += us;
  add(tallies.self, name, us);
  add(tallies.moduleSelf, moduleOf(name), us);
  const seen = new Set();
  const seenModules = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const n = names.get(at);
    if (n === "(root)") continue;
    // A function or module counts once per sample, however deep it recurses.
    if (!seen.has(n)) {
      seen.add(n);
      add(tallies.total, n, us);
    }
    const m = moduleOf(n);
    if (!seenModules.has(m)) {
      seenModules.add(m);
      add(tallies.moduleTotal, m, us);
    }
  }
});
const table = (title, map, what = "function") => {
  console.log(`\n${title}\n| ms | share | ${what} |\n|---:|---:|---|`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`| ${Math.round(us / 1000)} | ${((100 * us) / busy).toFixed(1)}% | ${name.replaceAll("|", "\\|")} |`);
  }
};
console.log(`${(busy / 1e6).toFixed(1)} s busy, ${(idle / 1e6).toFixed(1)} s idle (wall time on the isolate's thread)`);
table("Self time", tallies.self);
table("Total time", tallies.total);
table("Self time by module", tallies.moduleSelf, "module");
table("Total time by module", tallies.moduleTotal, "module");
