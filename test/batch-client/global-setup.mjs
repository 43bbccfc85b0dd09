// One `npm run dev` for the Node-side Batch client tests; its address, keys and folder reach
// them through `provide`.
import { startDev } from "./dev.mjs";

/** @param {import("vitest/node").TestProject} project */
export default async function setup(project) {
  const dev = await startDev();
  project.provide("dev", { dir: dev.dir, base: dev.vars.BASE, ...dev.vars });
  return () => dev.stop();
}
