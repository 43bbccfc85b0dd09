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
    cursor: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: "A `next_cursor` from the previous page of the same query." }),
    count_only: z.boolean().default(false).openapi({ description: "Only count: `profiles` is empty." }),
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
            count: z.int().openapi({
              description:
                "How many profiles match. Counted for `count_only` and for the first page; a page read with a cursor answers the count of that first page (carried in the cursor), not a new one: start again without a cursor, or ask `count_only`, for a fresh count.",
            }),
            profiles: z.array(z.object({ profile_id: z.string(), custom_id: z.string().nullable() })),
            next_cursor: z.string().nullable(),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});
