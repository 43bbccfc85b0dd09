import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import type * as routes from "./messages.routes";
import { sendTransactional } from "./send";
import { countOutcomes, readMessage } from "./store";

/** Sends per project per window (MESSAGE_SEND_LIMITER in wrangler.toml), for the message. */
const SEND_WINDOW_SECONDS = 10;

/** One project's sends are bounded, so it cannot fill the shared queue and Worker alone. */
export async function admitSend(env: Env, projectId: string): Promise<void> {
  const { success } = await env.MESSAGE_SEND_LIMITER.limit({ key: `project:${projectId}` });
  if (!success) {
    throw new ApiError("RATE_LIMITED", "Too many sends for this project; retry after the delay in Retry-After.", {
      headers: { "Retry-After": String(SEND_WINDOW_SECONDS) },
    });
  }
}

export const sendTransactionalMessage: RouteHandler<typeof routes.sendTransactional, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const body = c.req.valid("json");
  await admitSend(c.env, projectId);
  const result = await sendTransactional(c.env, {
    projectId,
    body,
    appIds: body.app_ids ?? null,
    idempotencyKey: c.req.header("Idempotency-Key") ?? null,
  });
  return c.json({ token: result.token }, result.created ? 201 : 200);
};

export const getMessage: RouteHandler<typeof routes.getMessage, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { token } = c.req.valid("param");
  const message = await readMessage(c.env, projectId, token);
  if (!message) throw new ApiError("NOT_FOUND", `No message ${token}.`);
  const counts = await countOutcomes(c.env, token);
  return c.json(
    {
      token,
      group_id: message.groupId,
      status: message.completedAt ? ("done" as const) : ("sending" as const),
      recipients: message.recipients,
      ...counts,
      created_at: message.createdAt,
      completed_at: message.completedAt,
    },
    200,
  );
};
