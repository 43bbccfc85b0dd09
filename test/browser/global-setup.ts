// The browser tests' stage: the Worker under `wrangler dev` (fresh local state, migrations
// applied), the web SDK built with esbuild, and a second HTTP server on another port (another
// origin) serving a page that loads the SDK. Their addresses reach the tests through `provide`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import type { TestProject } from "vitest/node";

const root = path.resolve(import.meta.dirname, "../..");
const wrangler = path.join(root, "node_modules/.bin/wrangler");

declare module "vitest" {
  export interface ProvidedContext {
    workerUrl: string;
    pageUrl: string;
    adminToken: string;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The SDK as a browser gets it from a CDN or a bundler: one ESM file. */
async function buildSdk(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(root, "sdk/web/src/index.ts")],
    bundle: true,
    format: "esm",
    target: "es2020",
    write: false,
  });
  return result.outputFiles[0]?.text ?? "";
}

/** The SDK's service worker, as `npm run build` makes it (`dist/edge-cdp-sw.js`): one classic script. */
async function buildServiceWorker(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(root, "sdk/web/src/service-worker.ts")],
    bundle: true,
    format: "iife",
    target: "es2020",
    write: false,
  });
  return result.outputFiles[0]?.text ?? "";
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A customer's page on another origin</h1>
<script type="module">
import * as sdk from "/sdk.js";
window.edgeCdp = sdk;
document.body.dataset.ready = "yes";
</script></body></html>`;

function serveTestPage(sdk: string, serviceWorker: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/sdk.js") {
      res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
      res.end(sdk);
    } else if (req.url?.startsWith("/edge-cdp-sw.js")) {
      res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
      res.end(serviceWorker);
    } else if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "Content-Type": "text/html", "Cache-Control": "no-store" });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  // Every local address (IPv4 and IPv6): the page is opened as `localhost`, which may resolve to either.
  return new Promise((resolve) => server.listen(port, () => resolve(server)));
}

async function waitForHealth(url: string, worker: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (worker.exitCode !== null) throw new Error(`wrangler dev exited (${worker.exitCode}):\n${log()}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`wrangler dev did not answer on ${url} within 2 minutes:\n${log()}`);
}

export default async function setup(project: TestProject) {
  const state = await mkdtemp(path.join(tmpdir(), "edge-cdp-browser-"));
  const adminToken = randomBytes(16).toString("hex");
  // No network beyond this machine: no metrics, no fetch of the `Request.cf` placeholder.
  const env = {
    ...process.env,
    ADMIN_TOKEN: adminToken,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
  // Every D1 database gets the migrations: the control database and each projection shard.
  await promisify(execFile)(process.execPath, ["scripts/migrate-d1.mjs", "--local", "--persist-to", state], {
    cwd: root,
    env,
  });

  const [workerPort, pagePort] = [await freePort(), await freePort()];
  let output = "";
  const worker = spawn(
    wrangler,
    [
      "dev",
      "--port",
      String(workerPort),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      state,
      "--var",
      `ADMIN_TOKEN:${adminToken}`,
      "--var",
      `CHANNEL_SECRET_KEY:${randomBytes(16).toString("hex")}`,
      "--show-interactive-dev-session=false",
    ],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  worker.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  worker.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const pageServer = await serveTestPage(await buildSdk(), await buildServiceWorker(), pagePort);

  const teardown = async () => {
    pageServer.close();
    // wrangler runs workerd as a child: stop the whole process group it leads.
    if (worker.pid !== undefined && worker.exitCode === null) {
      try {
        process.kill(-worker.pid, "SIGTERM");
      } catch {}
      await new Promise((resolve) => {
        worker.once("exit", resolve);
        setTimeout(resolve, 5000);
      });
    }
    await rm(state, { recursive: true, force: true });
  };

  const workerUrl = `http://127.0.0.1:${workerPort}`;
  try {
    await waitForHealth(workerUrl, worker, () => output);
  } catch (error) {
    await teardown();
    throw error;
  }
  project.provide("workerUrl", workerUrl);
  // `localhost`, not 127.0.0.1: another host as well as another port, so the SDK's calls are cross-origin.
  project.provide("pageUrl", `http://localhost:${pagePort}/`);
  project.provide("adminToken", adminToken);
  return teardown;
}
