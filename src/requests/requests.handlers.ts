import type { RouteHandler } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requestChunks, requests } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import type { OperationError } from "../profiles/operations";
import type * as routes from "./requests.routes";

export const getRequest: RouteHandler<typeof routes.getRequest, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { request_id } = c.req.valid("param");
  const db = drizzle(c.env.DB);
  const [found, chunks] = await db.batch([
    // Scoped to the caller's project: another project's request is as unknown as a missing one.
    db
      .select()
      .from(requests)
      .where(and(eq(requests.id, request_id), eq(requests.projectId, projectId))),
    db.select().from(requestChunks).where(eq(requestChunks.requestId, request_id)),
  ]);
  const request = found[0];
  if (!request) throw new ApiError("NOT_FOUND", `No request ${request_id}.`);
  const errors = [...(request.errors as OperationError[]), ...chunks.flatMap((ch) => ch.errors as OperationError[])];
  // Pending until every chunk is recorded, so `applied` and `errors` are final once it is not.
  const status = request.failure
    ? "failed"
    : chunks.length < request.chunks
      ? "pending"
      : chunks.some((ch) => ch.failed)
        ? "failed"
        : "done";
  return c.json(
    {
      request_id: request.id,
      kind: request.kind,
      status,
      total: request.total,
      applied: chunks.reduce((n, ch) => n + ch.applied, 0),
      errors: errors.sort((a, b) => a.bulk_index - b.bulk_index),
      created_at: request.createdAt,
      // An on-demand export's file, once written: download it at /v1/exports/{key}.
      ...(request.result ? { file: fileOf(request.result) } : {}),
    } as const,
    200,
  );
};

/** An export's file as the API shows it: the retention run's own marks left out. */
function fileOf(result: Record<string, unknown>) {
  const { key, rows, bytes, sha256 } = result as { key: string; rows: number; bytes: number; sha256: string };
  return { key, rows, bytes, sha256 };
}
