// `npm run dev` as a developer runs it, on its own port, in a copy of the working tree as a
// clone would have it (so the developer's own local state is never touched).
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freshCopy() {
  const dir = mkdtempSync(path.join(tmpdir(), "edge-cdp-batch-client-"));
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

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The variables `npm run dev` writes for the README's examples (BASE, keys of its demo project). */
function devEnv(file) {
  const vars = {};
  for (const m of readFileSync(file, "utf8").matchAll(/([A-Z_]+)=(\S+)/g)) vars[m[1]] = m[2];
  return vars;
}

/** Starts `npm run dev` on a free port; resolves once its demo project is written. */
export async function startDev() {
  const dir = freshCopy();
  const port = await freePort();
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
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const envFile = path.join(dir, ".wrangler/dev-env.sh");
  for (let i = 0; i < 900; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`npm run dev exited (${child.exitCode}):\n${log}`);
    }
    if (existsSync(envFile)) return { dir, port, vars: devEnv(envFile), stop, log: () => log };
    await sleep(200);
  }
  await stop();
  throw new Error(`npm run dev was not ready within 3 minutes:\n${log}`);
}
