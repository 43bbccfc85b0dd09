import { createApp } from "./app";
import { consume } from "./queue/consumer";
import type { QueueMessage } from "./queue/messages";
import { runScheduled } from "./scheduled";

export { CustomIdObject } from "./identity/custom-id-object";
export { InstallationObject } from "./identity/installation-object";

const app = createApp();

const handler: ExportedHandler<Env, QueueMessage> = {
  fetch: app.fetch,
  queue: (batch, env) => consume(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(runScheduled(controller, env)),
};

export default handler;
