import { createRoute, z } from "@hono/zod-openapi";
import { errorResponsesOf } from "../lib/errors";

export const MAX_LIMIT = 1000;

const QueryBody = z
  .object({
    where: z.unknown().openapi({
      type: "object",
      description:
        'A tree of nodes, each exactly one of: {"and": [node…]}, {"or": [node…]}, {"not": node}, {"attribute": name, "op": "eq|neq|gt|gte|lt|lte|exists|contains|in", "value": …}, {"has_custom_id": bool}, {"in_audience": name}, {"platform": "ios|android|web"}, {"push_optin": bool}, {"email_marketing": "subscribed|unsubscribed"}, {"last_activity": {"after": ISO, "before": ISO}}.',
      example: { and: [{ attribute: "tier", op: "eq", value: "gold" }, { push_optin: true }] },
    }),
    limit: z.int().min(1).max(MAX_LIMIT).default(100),
    cursor: z.string().max(200).optional(),
    count_only: z.boolean().default(false),
  })
  .strict();

export const querySegment = createRoute({
  method: "post",
  path: "/query",
  tags: ["segments"],
  summary: "Count and list the profiles a where tree matches (orphans never match)",
  security: [{ RestApiKey: [], ProjectId: [] }],
  request: { body: { required: true, content: { "application/json": { schema: QueryBody } } } },
  responses: {
    200: {
      description: "The matching profiles, ordered by profile ID",
      content: {
        "application/json": {
          schema: z.object({
            count: z.int(),
            profiles: z.array(z.object({ profile_id: z.string(), custom_id: z.string().nullable() })),
            next_cursor: z.string().nullable(),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});
