// `npm run dev` as a developer runs it, on its own port, in a copy of the working tree as a
// clone would have it (so the developer's own local state is never touched).
import { readFileSync, rmSync } from "node:fs";
import { freePort, freshCopy, spawnDev, waitForDev } from "../support/dev-server.mjs";

/** The variables `npm run dev` writes for the README's examples (BASE, keys of its demo project). */
function devEnv(file) {
  const vars = {};
  for (const m of readFileSync(file, "utf8").matchAll(/([A-Z_]+)=(\S+)/g)) vars[m[1]] = m[2];
  return vars;
}

/** Starts `npm run dev` on a free port; resolves once its demo project is written. */
export async function startDev() {
  const dir = freshCopy("edge-cdp-batch-client-");
  const port = await freePort();
  const dev = spawnDev(dir, port);
  const stop = async () => {
    await dev.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const envFile = await waitForDev(dir, dev);
    return { dir, port, vars: devEnv(envFile), stop, log: dev.log };
  } catch (error) {
    await stop();
    throw error;
  }
}
