// `npm run dev`: local D1 migrations, `wrangler dev` on $PORT (default 8787), and a demo
// project with a web app whose keys are printed. Idempotent across restarts: the demo's keys
// are kept in .wrangler/ beside the local state they belong to.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readWranglerToml } from "./lib/wrangler-config.mjs";

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
// What the README's examples start from: `. .wrangler/dev-env.sh`.
const envFile = ".wrangler/dev-env.sh";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example");
}
// A .dev.vars from before messaging has no CHANNEL_SECRET_KEY: channel credentials need one.
if (!/^CHANNEL_SECRET_KEY=/m.test(readFileSync(".dev.vars", "utf8"))) {
  appendFileSync(".dev.vars", `\nCHANNEL_SECRET_KEY=${randomBytes(24).toString("hex")}\n`);
  console.log("Added CHANNEL_SECRET_KEY to .dev.vars");
}
const devVars = parseDevVars(readFileSync(".dev.vars", "utf8"));
const adminToken = devVars.ADMIN_TOKEN;
if (!adminToken) throw new Error(".dev.vars has no ADMIN_TOKEN");
const missing = Object.keys(parseDevVars(readFileSync(".dev.vars.example", "utf8"))).filter((k) => !(k in devVars));
if (missing.length > 0) console.warn(`.dev.vars lacks ${missing.join(", ")} (see .dev.vars.example)`);

// wrangler.toml's `[secrets] required` makes `wrangler dev` load from .dev.vars only the secrets
// it declares (and the [vars] it overrides), so the other lines (ALLOW_HTTP_WEBHOOKS) are passed
// as --var. The secrets stay in .dev.vars, off the command line.
const secretNames = new Set(readWranglerToml().secrets?.required ?? []);
const extraVars = Object.entries(devVars)
  .filter(([key]) => !secretNames.has(key))
  .flatMap(([key, value]) => ["--var", `${key}:${value}`]);

// Locally, Request.cf is a placeholder anyway; fetching the real one from workers.cloudflare.com
// prints a stack trace when offline, twice. Set CLOUDFLARE_CF_FETCH_ENABLED=true to fetch it.
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" };

// Every D1 database gets the same migrations: the control database and each projection shard.
execFileSync(process.execPath, ["scripts/migrate-d1.mjs", "--local"], { stdio: "inherit", env });

// --test-scheduled: `curl "$BASE/__scheduled?cron=30+3+*+*+*"` runs the 03:30 purge locally.
const dev = spawn(
  wrangler,
  ["dev", "--port", String(port), "--ip", "127.0.0.1", "--test-scheduled", ...extraVars, ...process.argv.slice(2)],
  { stdio: "inherit", env },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

/** The `json` shell helper's program, single-quoted for the shell. */
const JSON_FIELD =
  '\'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{let v=JSON.parse(s);' +
  'for(const k of (process.argv[1]||"").split(".").filter(Boolean))v=v?.[k];' +
  'console.log(typeof v==="string"?v:JSON.stringify(v))})\'';

/** KEY=value lines of a .dev.vars file (comments and blank lines skipped, quotes removed). */
function parseDevVars(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) vars[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return vars;
}

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
writeFileSync(
  envFile,
  `# Written by \`npm run dev\`: \`. ${envFile}\` sets what the README's examples use.\n` +
    `export BASE=${base} ADMIN_TOKEN=${adminToken} PROJECT_ID=${demo.project_id} APP_ID=${demo.app_id} ` +
    `REST_KEY=${demo.rest_api_key} SDK_KEY=${demo.sdk_api_key}\n` +
    "# `… | json a.b` prints field a.b of a JSON answer (jq's job, with the Node.js you already have).\n" +
    `json() { node -e ${JSON_FIELD} "$1"; }\n`,
);
console.log(`
edge-cdp is running on ${base}   (docs: ${base}/docs)
  ADMIN_TOKEN   ${adminToken}
  PROJECT_ID    ${demo.project_id}
  REST_KEY      ${demo.rest_api_key}
  APP_ID        ${demo.app_id}  (web)
  SDK_KEY       ${demo.sdk_api_key}
Shell: . ${envFile}   (sets BASE, ADMIN_TOKEN, PROJECT_ID, APP_ID, REST_KEY and SDK_KEY)
`);
