import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { ApiError, errorResponsesOf } from "../lib/errors";
import { admitSend } from "../messaging/messages.handlers";
import { TransactionalBody } from "../messaging/messages.routes";
import { sendTransactional } from "../messaging/send";
import { batchAppOf } from "./auth";
import { ApiKeyParam, batchSecurity } from "./custom-data.routes";

/*
 * Batch's Transactional API 1.1 (SPEC §9, §10): a thin translation onto the send that
 * `/v1/messages/transactional` makes, for the app of API_KEY only. Keys, errors and the trailing
 * `/` are the ones of every Batch path (requireBatchKey, batchErrorCodes, rewriteCompatPath).
 */

const Token = { "application/json": { schema: z.object({ token: z.string() }) } };

export const sendRoute = createRoute({
  method: "post",
  path: "/1.1/{api_key}/transactional/send",
  tags: ["batch"],
  summary: "Batch Transactional API: send to up to 10,000 recipients of this app",
  description:
    "The body of POST /v1/messages/transactional without `app_ids`: API_KEY names the one app sent to. Answered at once, sent through a queue; progress at GET /v1/messages/{token}.",
  security: batchSecurity,
  request: {
    params: z.object({ api_key: ApiKeyParam }),
    headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
    body: { required: true, content: { "application/json": { schema: TransactionalBody } } },
  },
  responses: {
    201: { description: "Accepted for sending", content: Token },
    200: {
      description: "The same Idempotency-Key within 24 h: the first send's token, nothing sent again",
      content: Token,
    },
    ...errorResponsesOf(400, 401),
  },
});

/** Sends as `/v1/messages/transactional` does, to the app of the path's key. */
export const send: RouteHandler<typeof sendRoute, AppEnv> = async (c) => {
  const { appId, projectId } = batchAppOf(c);
  const body = c.req.valid("json");
  if (body.app_ids) {
    throw new ApiError("VALIDATION_FAILED", "app_ids is not part of the 1.1 API: API_KEY names the app.", {
      issues: [{ path: "app_ids", message: "Unknown field." }],
    });
  }
  await admitSend(c.env, projectId);
  const result = await sendTransactional(c.env, {
    projectId,
    body,
    appIds: [appId],
    idempotencyKey: c.req.valid("header")["idempotency-key"] ?? null,
  });
  return c.json({ token: result.token }, result.created ? 201 : 200);
};
