// `npm run build`: dist/index.js (ESM, minified, with a source map) and dist/index.d.ts; prints
// the minified and gzipped sizes.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
rmSync(`${root}dist`, { recursive: true, force: true });
await build({
  entryPoints: [`${root}src/index.ts`],
  outfile: `${root}dist/index.js`,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  legalComments: "none",
});
// The service worker is its own script: sites serve it at /edge-cdp-sw.js.
await build({
  entryPoints: [`${root}src/service-worker.ts`],
  outfile: `${root}dist/edge-cdp-sw.js`,
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
});
execFileSync("tsc", ["-p", root], { stdio: "inherit" });
const code = readFileSync(`${root}dist/index.js`);
console.log(`dist/index.js: ${code.length} bytes minified, ${gzipSync(code, { level: 9 }).length} bytes gzipped`);
