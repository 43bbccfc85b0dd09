import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { installationObjectName } from "../identity/identifiers";
import { callerOf } from "../lib/auth";
import { refuseLocalPushServices } from "../messaging/push-config";
import { allowsHttp } from "../webhooks/url";
import type * as routes from "./sdk.routes";

export const sdkBatch: RouteHandler<typeof routes.sdkBatch, AppEnv> = async (c) => {
  const caller = callerOf(c, "sdk");
  const batch = c.req.valid("json");
  refuseLocalPushServices(batch.ops, allowsHttp(c.env));
  const ns = c.env.INSTALLATIONS;
  const stub = ns.get(ns.idFromName(installationObjectName(caller.projectId, batch.installation_id)));
  const result = await stub.applyBatch({
    projectId: caller.projectId,
    installationId: batch.installation_id,
    appId: caller.appId,
    platform: caller.platform,
    context: batch.context,
    ops: batch.ops,
    requestId: c.get("requestId"),
    receivedAt: batch.received_at,
    source: "sdk",
  });
  return c.json(result, 200);
};
