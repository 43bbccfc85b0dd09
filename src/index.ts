import { createApp, rewriteCompatPath } from "./app";
import { consume } from "./queue/consumer";
import { runScheduled } from "./scheduled";

export { CustomIdObject } from "./identity/custom-id-object";
export { InstallationObject } from "./identity/installation-object";

const app = createApp();

const handler: ExportedHandler<Env, unknown> = {
  fetch: (request, env, ctx) => app.fetch(rewriteCompatPath(request), env, ctx),
  queue: (batch, env) => consume(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(runScheduled(controller, env)),
};

export default handler;
