import { createApp, rewriteCompatPath } from "./app";
import { metered } from "./meter/bindings";
import { count, meterOn } from "./meter/counters";
import { consume } from "./queue/consumer";
import { runScheduled } from "./scheduled";

export { CustomIdObject } from "./identity/custom-id-object";
export { InstallationObject } from "./identity/installation-object";

const app = createApp();
const METER_PATH = "/v1/admin/meter";

const handler: ExportedHandler<Env, unknown> = {
  fetch: (request, env, ctx) => {
    // Reading or zeroing the meter is the bench's own traffic, not the workload's.
    if (meterOn(env) && !new URL(request.url).pathname.startsWith(METER_PATH)) count("worker_requests");
    return app.fetch(rewriteCompatPath(request), metered(env), ctx);
  },
  queue: (batch, env) => {
    if (meterOn(env)) count("queue_batches");
    return consume(batch, metered(env));
  },
  scheduled: (controller, env, ctx) => {
    if (meterOn(env)) count("cron_invocations");
    ctx.waitUntil(runScheduled(controller, metered(env)));
  },
};

export default handler;
