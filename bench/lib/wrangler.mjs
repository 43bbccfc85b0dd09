// Starting `wrangler dev` processes and running wrangler's local D1 and R2 commands for the benchmarks.
import { execFileSync, spawn } from "node:child_process";

export const WRANGLER = "node_modules/.bin/wrangler";
const quietEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };

const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGTERM");
});
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(1));

/** Runs a wrangler command to completion; its output on failure. */
export function wrangler(args, { quiet = false } = {}) {
  try {
    return execFileSync(WRANGLER, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: quietEnv,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    if (!quiet) console.error(String(error.stdout), String(error.stderr));
    throw error;
  }
}

/**
 * Applies the D1 migrations to the local databases kept under `state`: with `config`, that
 * config's DB; without, every database of wrangler.toml (DB and each projection shard), as
 * `npm run dev` does, since a new project may be placed on any shard.
 */
export function migrate(state, config) {
  if (config) {
    wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "--config", config]);
    return;
  }
  execFileSync(process.execPath, ["scripts/migrate-d1.mjs", "--local", "--persist-to", state], {
    stdio: ["ignore", "ignore", "inherit"],
    env: quietEnv,
  });
}

/** Runs SQL against the local D1 database `database` (a binding, DB by default) kept under `state`. */
export function d1(state, sql, config, database = "DB") {
  return wrangler([
    "d1",
    "execute",
    database,
    "--local",
    "--persist-to",
    state,
    ...(config ? ["--config", config] : []),
    "--command",
    sql,
  ]);
}

/**
 * Starts `wrangler dev` on `port` with its state under `state` and waits until `probe` answers.
 * Returns the child process and its output so far.
 */
export async function startDev(args, { port, state, probe = "/" }) {
  const child = spawn(
    WRANGLER,
    [
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(port + 1000),
      "--persist-to",
      state,
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: quietEnv },
  );
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  children.push(child);
  const server = { child, pid: child.pid, log: () => log, url: `http://127.0.0.1:${port}` };
  for (let i = 0; ; i++) {
    try {
      await fetch(`${server.url}${probe}`);
      return server;
    } catch {
      if (i > 240 || child.exitCode !== null) throw new Error(`wrangler dev on ${port} did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * The binding of the projection shard the directory placed `projectId` on (the first, for a
 * split project), read from the control database kept under `state`: a project is placed on
 * the emptiest shard, so a scenario that writes or counts projection rows itself asks here.
 */
export function shardOf(state, projectId) {
  const out = wrangler([
    "d1",
    "execute",
    "DB",
    "--local",
    "--persist-to",
    state,
    "--json",
    "--command",
    `SELECT shard FROM project_shards WHERE project_id = '${projectId}' ORDER BY position LIMIT 1`,
  ]);
  const shard = JSON.parse(out)[0]?.results?.[0]?.shard;
  if (!shard) throw new Error(`project ${projectId} has no shard in the directory`);
  return shard;
}
