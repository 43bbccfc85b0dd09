import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { purgeStatus, startPurge } from "../purge/purge";
import type * as routes from "./jobs.routes";

export const runJob: RouteHandler<typeof routes.runJob, AppEnv> = async (c) => {
  const contentLength = c.req.header("Content-Length");
  const hasBody = contentLength !== undefined && contentLength !== "0";
  const body = hasBody ? c.req.valid("json") : {};
  const asOf = body.as_of ? new Date(body.as_of) : new Date();
  const id = await startPurge(c.env, { asOf, dryRun: body.dry_run ?? false, origin: "admin" });
  return c.json({ job: "purge" as const, request_id: id }, 202);
};

export const getJob: RouteHandler<typeof routes.getJob, AppEnv> = async (c) => {
  const { request_id } = c.req.valid("param");
  const status = await purgeStatus(c.env, request_id);
  if (!status) throw new ApiError("NOT_FOUND", `No purge job ${request_id}.`);
  return c.json(status, 200);
};
