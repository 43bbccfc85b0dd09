// `npm run dev` as a newcomer runs it, for the Node-side checks that need the real thing (the
// README run, the Batch client): in a copy of the working tree as a clone would have it, so the
// developer's own local state is never touched, on a port of its own.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A copy of the working tree's tracked and unignored files in a new temporary folder, sharing node_modules. */
export function freshCopy(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const files = execFileSync("git", ["ls-files", "-z", "-co", "--exclude-standard"], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && f !== "node_modules" && existsSync(path.join(root, f)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(dir, file));
  }
  symlinkSync(realpathSync(path.join(root, "node_modules")), path.join(dir, "node_modules"));
  return dir;
}

/** A port nothing listens on now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `npm run dev` in `dir` on `port`; `stop()` ends its whole process group. */
export function spawnDev(dir, port) {
  let log = "";
  const child = spawn("npm", ["run", "dev"], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  };
  return { child, stop, log: () => log };
}

/**
 * Waits until `npm run dev` wrote .wrangler/dev-env.sh (its demo project exists); throws with its
 * output when it exits first or takes longer than `timeoutMs` (a shared machine can be slow).
 */
export async function waitForDev(dir, dev, timeoutMs = 6 * 60_000) {
  const envFile = path.join(dir, ".wrangler/dev-env.sh");
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    if (dev.child.exitCode !== null) throw new Error(`npm run dev exited (${dev.child.exitCode}):\n${dev.log()}`);
    if (existsSync(envFile)) return envFile;
  }
  throw new Error(`npm run dev was not ready within ${timeoutMs / 60_000} minutes:\n${dev.log()}`);
}
