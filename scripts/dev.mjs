// `npm run dev`: local D1 migrations, `wrangler dev` on $PORT (default 8787), and a demo
// project with a web app whose keys are printed. Idempotent across restarts: the demo's keys
// are kept in .wrangler/ beside the local state they belong to.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

// npm puts node_modules/.bin first on the PATH, where the node-<os>-<cpu> dependency puts Node 22.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `wrangler needs Node.js 22 or newer; this is ${process.version}. Run \`npm install\` first, then \`npm run dev\`` +
      " (not `node scripts/dev.mjs`): npm scripts run on the Node 22 that `npm install` puts in node_modules.",
  );
  process.exit(1);
}

const port = Number(process.env.PORT ?? 8787);
const base = `http://127.0.0.1:${port}`;
const wrangler = "node_modules/.bin/wrangler";
const demoFile = ".wrangler/edge-cdp-demo.json";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example");
}
// A .dev.vars from before messaging has no CHANNEL_SECRET_KEY: channel credentials need one.
if (!/^CHANNEL_SECRET_KEY=/m.test(readFileSync(".dev.vars", "utf8"))) {
  appendFileSync(".dev.vars", `\nCHANNEL_SECRET_KEY=${randomBytes(24).toString("hex")}\n`);
  console.log("Added CHANNEL_SECRET_KEY to .dev.vars");
}
const adminToken = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1]?.trim();
if (!adminToken) throw new Error(".dev.vars has no ADMIN_TOKEN");

// Locally, Request.cf is a placeholder anyway; fetching the real one from workers.cloudflare.com
// prints a stack trace when offline, twice. Set CLOUDFLARE_CF_FETCH_ENABLED=true to fetch it.
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" };

execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit", env });

// --test-scheduled: `curl "$BASE/__scheduled?cron=30+3+*+*+*"` runs the 03:30 purge locally.
const dev = spawn(
  wrangler,
  ["dev", "--port", String(port), "--ip", "127.0.0.1", "--test-scheduled", ...process.argv.slice(2)],
  { stdio: "inherit", env },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function waitForHealth() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${base}/health did not answer within 2 minutes`);
}

async function ensureDemo() {
  if (existsSync(demoFile)) {
    const demo = JSON.parse(readFileSync(demoFile, "utf8"));
    const found = await api("GET", `/v1/admin/projects/${demo.project_id}`);
    if (found.status === 200 && found.body.apps.some((a) => a.app_id === demo.app_id)) return demo;
  }
  const project = await api("POST", "/v1/admin/projects", { name: "Demo" });
  if (project.status !== 201) throw new Error(`creating the demo project: ${JSON.stringify(project.body)}`);
  const app = await api("POST", `/v1/admin/projects/${project.body.project_id}/apps`, {
    name: "Demo web",
    platform: "web",
  });
  if (app.status !== 201) throw new Error(`creating the demo app: ${JSON.stringify(app.body)}`);
  const demo = {
    project_id: project.body.project_id,
    rest_api_key: project.body.rest_api_key,
    app_id: app.body.app_id,
    sdk_api_key: app.body.sdk_api_key,
  };
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(demoFile, `${JSON.stringify(demo, null, 2)}\n`);
  return demo;
}

await waitForHealth();
const demo = await ensureDemo();
console.log(`
edge-cdp is running on ${base}   (docs: ${base}/docs)
  ADMIN_TOKEN   ${adminToken}
  PROJECT_ID    ${demo.project_id}
  REST_KEY      ${demo.rest_api_key}
  APP_ID        ${demo.app_id}  (web)
  SDK_KEY       ${demo.sdk_api_key}
Shell: export BASE=${base} ADMIN_TOKEN=${adminToken} PROJECT_ID=${demo.project_id} REST_KEY=${demo.rest_api_key} SDK_KEY=${demo.sdk_api_key}
`);
