import { createRoute, z } from "@hono/zod-openapi";
import { CustomIdSchema } from "../identity/identifiers";
import { errorResponsesOf } from "../lib/errors";
import { ApiKeyParam, batchSecurity } from "./custom-data.routes";

/** Batch's limit: events in one request, single or bulk. */
export const MAX_TRIGGER_EVENTS = 1_000;

const BatchEvent = z
  .object({
    name: z.string().openapi({ example: "ue.added_to_cart", description: "The `ue.` prefix is optional." }),
    time: z.string().optional().openapi({ description: "ISO 8601 (UTC when no zone), within the last 24 hours." }),
    label: z.string().optional().openapi({ description: "At most 200 characters." }),
    tags: z.array(z.string()).optional().openapi({ description: "At most 10 tags of at most 64 characters." }),
    attributes: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: "At most 15; `date(name)` takes a date, `url(name)` a URL." }),
  })
  .strict()
  .openapi("BatchTriggerEvent");

const Events = z.array(BatchEvent).max(MAX_TRIGGER_EVENTS, `At most ${MAX_TRIGGER_EVENTS} events per request.`);
const accepted = {
  description: "Applied",
  content: { "application/json": { schema: z.object({ token: z.string() }) } },
};

export const trackEvents = createRoute({
  method: "post",
  path: "/1.0/{api_key}/events/users/{custom_id}",
  tags: ["batch"],
  summary: "Batch Trigger Events API: events of one user",
  description:
    "Applied before the answer, as Profile API events (profile, history, exports, webhooks). Any event outside Batch's limits refuses the whole request.",
  security: batchSecurity,
  request: {
    params: z.object({
      api_key: ApiKeyParam,
      custom_id: CustomIdSchema.openapi({ param: { name: "custom_id", in: "path" } }),
    }),
    body: { required: true, content: { "application/json": { schema: z.object({ events: Events }).strict() } } },
  },
  responses: { 202: accepted, ...errorResponsesOf(400, 401) },
});

export const trackEventsBulk = createRoute({
  method: "post",
  path: "/1.0/{api_key}/events/users",
  tags: ["batch"],
  summary: "Batch Trigger Events API, bulk: events of many users, at most 1,000 in all",
  security: batchSecurity,
  request: {
    params: z.object({ api_key: ApiKeyParam }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .array(z.object({ id: z.string(), events: Events }).strict())
            .min(1, "Send at least one user.")
            .max(MAX_TRIGGER_EVENTS, `At most ${MAX_TRIGGER_EVENTS} events per request.`),
        },
      },
    },
  },
  responses: { 202: accepted, ...errorResponsesOf(400, 401) },
});
