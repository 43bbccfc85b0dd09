import { createRoute, z } from "@hono/zod-openapi";
import { requireKey } from "../lib/auth";
import { errorResponsesOf } from "../lib/errors";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import { sweepAudienceInbox } from "./feeds";
import * as handlers from "./feeds.handlers";
import * as routes from "./feeds.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

/** `/v1/audience-feeds`: how each flat file of the inbox becomes an audience. */
export default router.openapi(routes.putFeed, handlers.putFeed).openapi(routes.listRuns, handlers.listRuns);

const sweepRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["admin"],
  summary: "Sweep the audience inbox now, as the cron does every 5 minutes",
  security: [{ AdminToken: [] }],
  responses: {
    202: {
      description: "Swept",
      content: {
        "application/json": {
          schema: z.object({
            job: z.literal("audience_inbox"),
            request_id: z.string(),
            files: z.int(),
            done: z.int(),
            failed: z.int(),
            queued: z
              .int()
              .openapi({ description: "Files larger than one invocation reads: they go on through the queue." }),
          }),
        },
      },
    },
    ...errorResponsesOf(401, 403),
  },
});

const sweep = createRouter();
sweep.use("*", requireKey("admin"));
/** `POST /v1/admin/jobs/audience_inbox`. */
export const audienceInboxJob = sweep.openapi(sweepRoute, async (c) => {
  const result = await sweepAudienceInbox(c.env);
  return c.json({ job: "audience_inbox" as const, request_id: c.get("requestId"), ...result }, 202);
});
