import { createRoute, z } from "@hono/zod-openapi";
import { errorResponsesOf } from "../lib/errors";

export const RequestStatusSchema = z
  .object({
    request_id: z.string(),
    kind: z.string(),
    status: z.enum(["pending", "done", "failed"]),
    total: z.int(),
    applied: z.int(),
    errors: z.array(
      z.object({ bulk_index: z.int(), category: z.string(), reason: z.string(), attribute: z.string().optional() }),
    ),
    created_at: z.string(),
  })
  .openapi("RequestStatus");

export const getRequest = createRoute({
  method: "get",
  path: "/{request_id}",
  tags: ["requests"],
  summary: "Progress and per-operation errors of an asynchronous request",
  security: [{ RestApiKey: [], ProjectId: [] }],
  request: {
    params: z.object({ request_id: z.uuid().openapi({ param: { name: "request_id", in: "path" } }) }),
  },
  responses: {
    200: { description: "The request", content: { "application/json": { schema: RequestStatusSchema } } },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});
