// `npm run test:readme`: runs the README's and the guides' shell examples against `npm run dev`.
//
// The working tree is copied (tracked and untracked files, not what git ignores) into a
// temporary directory, as a fresh clone would have it, and `npm run dev` starts there on $PORT
// (a free port when unset), with a receiver for webhooks and privacy callbacks on another port
// ($RECEIVER). Each document's ```sh blocks then run in order in one bash, its `curl` going
// through a recording proxy. A block that fails, a call answered 4xx/5xx where the document
// shows no such answer, or an answer that differs from the `# →` the document shows (see
// expect.mjs) fails the run. Every exchange is written to .wrangler/readme-exchanges.json
// (README_EXCHANGES to move it), and each is checked against the OpenAPI document the server
// serves (openapi.mjs): route, parameters, request body, status and response body.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, freshCopy, spawnDev, waitForDev } from "../support/dev-server.mjs";
import { mismatches } from "./expect.mjs";
import { shellBlocks } from "./markdown.mjs";
import { exchangeChecker } from "./openapi.mjs";
import { listen, receiver, recordingProxy } from "./servers.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const exchangesFile = path.resolve(root, process.env.README_EXCHANGES ?? ".wrangler/readme-exchanges.json");
const DOC_TIMEOUT_MS = 180_000;

/** README.md, then every Markdown file under docs/, in name order. */
function documents() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".md")) found.push(rel);
    }
  };
  walk("docs");
  const all = ["README.md", ...found];
  // README_DOCS=docs/guides/privacy.md,…: only those (each document runs on its own project).
  const only = process.env.README_DOCS?.split(",").filter(Boolean);
  return only ? all.filter((doc) => only.includes(doc)) : all;
}

// Every document starts from `. .wrangler/dev-env.sh`, as each one says. Every curl of the
// examples goes through the proxy, tagged with where it was called from (bash gives the block
// file and a line of the command); a command that fails says where it was.
const PREAMBLE = `set -Eeo pipefail
. .wrangler/dev-env.sh
curl() { command curl --proxy "$README_PROXY" --noproxy '' -H "X-Readme-Call: \${BASH_SOURCE[1]##*/}:\${BASH_LINENO[0]}" "$@"; }
trap 'echo "failed (exit $?) at \${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
`;

/** The values `export` sets in .wrangler/dev-env.sh. */
function readDevEnv(dir) {
  const text = readFileSync(path.join(dir, ".wrangler/dev-env.sh"), "utf8");
  return { text, vars: Object.fromEntries([...text.matchAll(/\b([A-Z_]+)=(\S+)/g)].map((m) => [m[1], m[2]])) };
}

/**
 * Gives the next document a demo project and web app of its own (in .wrangler/dev-env.sh, as
 * `npm run dev` writes it), so no document sees another's profiles, audiences or webhooks.
 * README.md keeps the one `npm run dev` made.
 */
async function freshProjectFor(dir, doc, original) {
  const { BASE, ADMIN_TOKEN } = original.vars;
  const admin = async (route, body) => {
    const res = await fetch(`${BASE}${route}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status !== 201) throw new Error(`${route} for ${doc}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const project = await admin("/v1/admin/projects", { name: `Demo (${doc})` });
  const app = await admin(`/v1/admin/projects/${project.project_id}/apps`, { name: "Demo web", platform: "web" });
  const values = {
    PROJECT_ID: project.project_id,
    APP_ID: app.app_id,
    REST_KEY: project.rest_api_key,
    SDK_KEY: app.sdk_api_key,
  };
  const text = original.text.replace(/\b(PROJECT_ID|APP_ID|REST_KEY|SDK_KEY)=\S+/g, (_, k) => `${k}=${values[k]}`);
  writeFileSync(path.join(dir, ".wrangler/dev-env.sh"), text);
}

/** Set while a document runs: sees each exchange as it happens. */
let watcher = () => {};

function runBash(dir, script, env) {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn("bash", ["-c", script], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // A call that keeps failing (a polling loop waiting for what an error prevents) stops the
    // document at once rather than at the timeout.
    const errors = new Map();
    watcher = (x) => {
      const count = x.response.status >= 400 ? (errors.get(x.tag) ?? 0) + 1 : 0;
      errors.set(x.tag, count);
      if (count === 3) {
        output += `\n(stopped: the call at ${x.tag} answered ${x.response.status} three times in a row)`;
        child.kill("SIGKILL");
      }
    };
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(killed after ${DOC_TIMEOUT_MS / 1000} s)`;
      child.kill("SIGKILL");
    }, DOC_TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      watcher = () => {};
      resolve({ code: code ?? signal, output });
    });
  });
}

/** Runs one document's blocks; returns its failures (strings) and records its exchanges. */
async function runDocument(dir, doc, exchanges, env, devEnv) {
  const blocks = shellBlocks(readFileSync(path.join(root, doc), "utf8"));
  const slug = doc.replace(/[^A-Za-z0-9]+/g, "_");
  const runDir = path.join(dir, ".readme-run");
  mkdirSync(runDir, { recursive: true });
  const sources = [];
  blocks.forEach((block, k) => {
    if (block.skip) return;
    const file = `${slug}-${k}.sh`;
    writeFileSync(path.join(runDir, file), `${block.lines.join("\n")}\n`);
    sources.push(`source ${JSON.stringify(path.join(runDir, file))}`);
  });
  if (sources.length === 0) return { failures: [], calls: 0, blocks: 0, skipped: blocks.length };
  if (doc !== "README.md") await freshProjectFor(dir, doc, devEnv);
  const first = exchanges.length;
  const result = await runBash(dir, `${PREAMBLE}${sources.join("\n")}\n`, env);
  const mine = exchanges.slice(first);
  const failures = [];
  if (result.code !== 0) {
    // Where bash says a block file's line, say the document's.
    const output = result.output.replace(/([\w.-]+\.sh):(\d+)/g, (whole, file, line) => {
      const k = Number(/-(\d+)\.sh$/.exec(file)?.[1]);
      return file.startsWith(slug) && blocks[k] ? `${doc}:${blocks[k].startLine + Number(line) - 1}` : whole;
    });
    failures.push(`${doc}: the examples stopped (exit ${result.code}):\n${indent(output.slice(-4000))}`);
  }

  const bindings = new Map();
  let calls = 0;
  blocks.forEach((block, k) => {
    if (block.skip) return;
    const file = `${slug}-${k}.sh`;
    for (const command of block.commands) {
      const where = `${doc}:${block.startLine + command.first}`;
      const seen = mine.filter((x) => {
        const [tagFile, line] = (x.tag ?? "").split(":");
        return tagFile === file && Number(line) - 1 >= command.first && Number(line) - 1 <= command.last;
      });
      for (const x of seen) {
        x.doc = doc;
        x.line = block.startLine + command.first;
      }
      calls += seen.length;
      const last = seen.at(-1);
      if (command.expect) {
        if (!last) {
          if (result.code === 0) failures.push(`${where}: the document shows a response, but no call was made`);
          continue;
        }
        const problems = [];
        const status = last.response.status;
        if (command.expect.status !== undefined ? status !== command.expect.status : status >= 300) {
          problems.push(`status ${status}, the document shows ${command.expect.status ?? "a 2xx"}`);
        }
        if (command.expect.body) {
          const actual = last.response.json ?? last.response.body;
          problems.push(...mismatches(command.expect.body, actual, bindings));
        }
        if (problems.length > 0) {
          failures.push(
            `${where}: ${last.request.method} ${last.request.path}\n  shown:    ${command.expect.text}\n  answered: ${status} ${last.response.body.slice(0, 600)}\n${indent(problems.join("\n"))}`,
          );
        }
        for (const x of seen.slice(0, -1)) checkStatus(x, where, failures, true);
      } else {
        for (const x of seen) checkStatus(x, where, failures, false);
      }
    }
  });
  for (const x of mine) {
    if (x.doc === undefined) {
      x.doc = doc;
      failures.push(`${doc}: a call tagged ${x.tag} matched no command of the document`);
    }
  }
  return { failures, calls, blocks: sources.length, skipped: blocks.length - sources.length };
}

/**
 * Every exchange against the OpenAPI document the server serves (see openapi.mjs). Paths under
 * `/__` are wrangler dev's own (`/__scheduled`), not the Worker's.
 */
async function checkAgainstOpenApi(base, exchanges) {
  const doc = await (await fetch(`${base}/openapi.json`)).json();
  const check = exchangeChecker(doc);
  const failures = [];
  for (const x of exchanges) {
    if (x.request.path.startsWith("/__")) continue;
    const problems = check(x);
    if (problems.length > 0)
      failures.push(`${x.doc}:${x.line ?? "?"}: against /openapi.json:\n${indent(problems.join("\n"))}`);
  }
  return failures;
}

/** A call the document shows no response for must not be an error. Polling calls may be pending. */
function checkStatus(x, where, failures, polling) {
  if (x.response.status >= 400 && !polling) {
    failures.push(
      `${where}: ${x.request.method} ${x.request.path} answered ${x.response.status}, the document shows no such answer:\n  ${x.response.body.slice(0, 400)}`,
    );
  }
}

function indent(text) {
  return text.replace(/^/gm, "    ");
}

async function main() {
  const started = Date.now();
  const exchanges = [];
  const received = [];
  const proxy = recordingProxy((x) => {
    exchanges.push(x);
    watcher(x);
  });
  const sink = receiver(received);
  const [proxyPort, receiverPort] = [await listen(proxy), await listen(sink)];
  const port = Number(process.env.PORT ?? (await freePort()));
  const dir = freshCopy("edge-cdp-readme-");
  const dev = spawnDev(dir, port);
  const failures = [];
  const summary = [];
  try {
    await waitForDev(dir, dev);
    console.log(
      `npm run dev is up on 127.0.0.1:${port} (${((Date.now() - started) / 1000).toFixed(1)} s); receiver on ${receiverPort}`,
    );
    const env = { README_PROXY: `http://127.0.0.1:${proxyPort}`, RECEIVER: `http://127.0.0.1:${receiverPort}` };
    const devEnv = readDevEnv(dir);
    for (const doc of documents()) {
      const result = await runDocument(dir, doc, exchanges, env, devEnv);
      if (result.blocks + result.skipped === 0) continue;
      summary.push(
        `${doc}: ${result.blocks} blocks run, ${result.skipped} skipped, ${result.calls} calls, ${result.failures.length} failures`,
      );
      failures.push(...result.failures);
    }
    failures.push(...(await checkAgainstOpenApi(devEnv.vars.BASE, exchanges)));
    // The receiver stands for webhook and callback URLs (Standard Webhooks signatures) and for
    // push services (Web Push: an aes128gcm body and a VAPID authorization).
    for (const post of received) {
      const webhook = post.headers["webhook-signature"] && post.headers["webhook-id"];
      const push =
        post.headers["content-encoding"] === "aes128gcm" && /^vapid /i.test(post.headers.authorization ?? "");
      if (!webhook && !push) {
        failures.push(
          `receiver: a ${post.method} ${post.path} neither signed (Standard Webhooks) nor a Web Push message`,
        );
      }
    }
    summary.push(`receiver: ${received.length} signed POSTs`);
  } finally {
    await dev.stop();
    proxy.close();
    sink.close();
    if (failures.length > 0 || process.env.README_KEEP)
      console.log(`npm run dev's output:\n${indent(dev.log().slice(-3000))}`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(path.dirname(exchangesFile), { recursive: true });
  writeFileSync(
    exchangesFile,
    `${JSON.stringify({ generated_at: new Date().toISOString(), base: `http://127.0.0.1:${port}`, exchanges: exchanges.map(({ tag, ...x }) => x) }, null, 2)}\n`,
  );
  console.log(summary.join("\n"));
  console.log(
    `${exchanges.length} exchanges in ${path.relative(root, exchangesFile)}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (failures.length > 0) {
    console.error(`\n${failures.length} failures:\n\n${failures.join("\n\n")}`);
    process.exitCode = 1;
  }
}

await main();
