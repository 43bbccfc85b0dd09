import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../lib/errors";

export const MAX_TOPICS = 50;

const security = [{ RestApiKey: [], ProjectId: [] }];
const tags = ["webhooks"];

const TopicsSchema = z
  .array(z.string().max(40))
  .min(1)
  .max(MAX_TOPICS)
  .openapi({ example: ["event.purchase", "identity.*"] });

export const WebhookSchema = z
  .object({
    webhook_id: z.string(),
    url: z.string(),
    topics: z.array(z.string()),
    description: z.string().nullable(),
    enabled: z.boolean(),
    /** Why the webhook stopped: failing for 24 h. Null while enabled. */
    disabled_reason: z.string().nullable(),
    disabled_at: z.string().nullable(),
    /** The first failed attempt since the last success, if failing now. */
    failing_since: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Webhook");

const WebhookIdParams = z.object({
  webhook_id: z.uuid().openapi({ param: { name: "webhook_id", in: "path" } }),
});

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

export const createWebhook = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Subscribe a URL to topics",
  security,
  request: {
    body: {
      required: true,
      content: json(
        z
          .object({
            url: z.string().openapi({ example: "https://hooks.example.com/edge-cdp" }),
            topics: TopicsSchema,
            description: z.string().max(500).optional(),
          })
          .strict(),
      ),
    },
  },
  responses: { 201: { description: "The webhook", content: json(WebhookSchema) }, ...errorResponses },
});

export const listWebhooks = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The project's webhooks",
  security,
  responses: {
    200: { description: "The webhooks", content: json(z.object({ webhooks: z.array(WebhookSchema) })) },
    ...errorResponses,
  },
});

export const getWebhook = createRoute({
  method: "get",
  path: "/{webhook_id}",
  tags,
  summary: "One webhook, with whether it is enabled and why not",
  security,
  request: { params: WebhookIdParams },
  responses: { 200: { description: "The webhook", content: json(WebhookSchema) }, ...errorResponses },
});

export const updateWebhook = createRoute({
  method: "patch",
  path: "/{webhook_id}",
  tags,
  summary: "Change a webhook's URL, topics or description, or enable or disable it",
  security,
  request: {
    params: WebhookIdParams,
    body: {
      required: true,
      content: json(
        z
          .object({
            url: z.string().optional(),
            topics: TopicsSchema.optional(),
            description: z.string().max(500).nullable().optional(),
            enabled: z.boolean().optional(),
          })
          .strict(),
      ),
    },
  },
  responses: { 200: { description: "The webhook", content: json(WebhookSchema) }, ...errorResponses },
});

export const deleteWebhook = createRoute({
  method: "delete",
  path: "/{webhook_id}",
  tags,
  summary: "Delete a webhook and its delivery log",
  security,
  request: { params: WebhookIdParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export const testWebhook = createRoute({
  method: "post",
  path: "/{webhook_id}/test",
  tags,
  summary: "Send a signed `ping` now and report what the receiver answered",
  security,
  request: { params: WebhookIdParams },
  responses: {
    200: {
      description: "The attempt",
      content: json(
        z.object({
          delivered: z.boolean(),
          delivery_id: z.string(),
          status: z.int().nullable(),
          latency_ms: z.int(),
          error: z.string().nullable(),
        }),
      ),
    },
    ...errorResponses,
  },
});

export const DeliverySchema = z
  .object({
    delivery_id: z.string(),
    attempt: z.int(),
    time: z.string(),
    outcome: z.enum(["delivered", "retrying", "failed"]),
    status: z.int().nullable(),
    latency_ms: z.int(),
    error: z.string().nullable(),
    response_excerpt: z.string().nullable(),
    items: z.int(),
  })
  .openapi("WebhookDeliveryAttempt");

export const listDeliveries = createRoute({
  method: "get",
  path: "/{webhook_id}/deliveries",
  tags,
  summary: "Recent delivery attempts, most recent first (kept 7 days)",
  security,
  request: {
    params: WebhookIdParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
  },
  responses: {
    200: { description: "The attempts", content: json(z.object({ deliveries: z.array(DeliverySchema) })) },
    ...errorResponses,
  },
});
