import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import type { BatchOp } from "../identity/installation-batch";
import { callerOf } from "../lib/auth";
import { ApiError, errorResponsesOf } from "../lib/errors";
import { vapidOf } from "./vapid";

/** `GET /v1/sdk/push-config`: what a browser needs to subscribe (SPEC §10, Subscriptions). */
export const pushConfig = createRoute({
  method: "get",
  path: "/push-config",
  tags: ["sdk"],
  summary: "The project's VAPID public key, for PushManager.subscribe",
  security: [{ SdkApiKey: [] }],
  responses: {
    200: {
      description: "The key",
      content: {
        "application/json": {
          schema: z.object({
            vapid_public_key: z.string().openapi({ description: "base64url, a 65-byte uncompressed P-256 point" }),
          }),
        },
      },
    },
    ...errorResponsesOf(401, 403),
  },
});

export const getPushConfig: RouteHandler<typeof pushConfig, AppEnv> = async (c) => {
  const caller = callerOf(c, "sdk");
  const vapid = await vapidOf(c.env, caller.projectId);
  // The key never changes: browsers and CDNs may keep it a while.
  c.header("Cache-Control", "public, max-age=300");
  return c.json({ vapid_public_key: vapid.publicKey }, 200);
};

/**
 * A subscription on a local push service (`http://127.0.0.1`) is for development: refused,
 * with its op's path, unless ALLOW_HTTP_WEBHOOKS is set.
 */
export function refuseLocalPushServices(ops: BatchOp[], allowHttp: boolean): void {
  if (allowHttp) return;
  const issues = ops.flatMap((op, i) =>
    op.type === "push_token" && op.provider === "webpush" && op.token.includes('"endpoint":"http://')
      ? [{ path: `ops.${i}.token`, message: "The subscription's endpoint must be https:// on a known push service." }]
      : [],
  );
  if (issues.length) throw new ApiError("VALIDATION_FAILED", issues[0]?.message ?? "", { issues });
}
