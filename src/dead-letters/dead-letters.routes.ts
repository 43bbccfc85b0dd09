import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../lib/errors";
import { DEAD_LETTER_QUEUES } from "../queue/consumer";

const DeadLetterQueue = z.enum(DEAD_LETTER_QUEUES);

const DeadLettersSchema = z
  .object({
    queues: z.array(
      z.object({
        queue: DeadLetterQueue,
        replayed: z.int().openapi({ description: "Applied by the dead-letter consumer's own attempt." }),
        recorded: z.int().openapi({ description: "Could not be applied; kept for an operator." }),
        last_at: z.string().nullable(),
      }),
    ),
    recent: z.array(
      z.object({
        queue: DeadLetterQueue,
        message_id: z.string(),
        project_id: z.string().nullable(),
        outcome: z.enum(["replayed", "recorded"]),
        error: z.string().nullable(),
        created_at: z.string(),
      }),
    ),
  })
  .openapi("DeadLetters");

export const listDeadLetters = createRoute({
  method: "get",
  path: "/",
  tags: ["admin"],
  summary: "What reached each dead-letter queue: counts, and the most recent messages",
  security: [{ AdminToken: [] }],
  request: {
    query: z
      .object({
        queue: DeadLetterQueue.optional(),
        outcome: z.enum(["replayed", "recorded"]).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      })
      .strict(),
  },
  responses: {
    200: { description: "Dead letters", content: { "application/json": { schema: DeadLettersSchema } } },
    ...errorResponses,
  },
});
