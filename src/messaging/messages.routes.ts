import { createRoute, z } from "@hono/zod-openapi";
import { CustomIdSchema, InstallationIdSchema } from "../identity/identifiers";
import { errorResponses, errorResponsesOf } from "../lib/errors";

/** At most this many identifiers in all of `recipients`' lists together (SPEC §10). */
export const MAX_RECIPIENTS = 10_000;
/** Web Push services keep a message at most four weeks. */
export const MAX_TTL_SECONDS = 28 * 86_400;
export const DEFAULT_TTL_SECONDS = 86_400;

const security = [{ RestApiKey: [], ProjectId: [] }];
const tags = ["messages"];

const text = (max: number) => z.string().min(1).max(max);
const Url = z.url({ protocol: /^https?$/ }).max(2048);

/**
 * The body of a transactional send, shared by `/v1/messages/transactional` and Batch's
 * `/1.1/{API_KEY}/transactional/send` (SPEC §10).
 */
export const TransactionalBody = z
  .object({
    group_id: text(100),
    recipients: z
      .object({
        custom_ids: z.array(CustomIdSchema).max(MAX_RECIPIENTS).optional(),
        install_ids: z.array(InstallationIdSchema).max(MAX_RECIPIENTS).optional(),
        tokens: z.array(text(4096)).max(MAX_RECIPIENTS).optional(),
      })
      .strict(),
    // With `template_id` (a campaign's token) the message is that campaign's, and what is given here overrides it.
    message: z
      .object({ title: text(256).optional(), body: text(2048).optional() })
      .strict()
      .optional(),
    template_id: z.uuid().optional(),
    deeplink: Url.optional(),
    media: z.object({ icon: Url.optional(), picture: Url.optional() }).strict().optional(),
    custom_payload: z
      .string()
      .max(2048)
      .refine((value) => {
        try {
          const parsed = JSON.parse(value);
          return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed);
        } catch {
          return false;
        }
      }, "custom_payload is a JSON object, as a string.")
      .optional(),
    time_to_live: z.int().min(0).max(MAX_TTL_SECONDS).optional(),
    priority: z.enum(["normal", "high"]).optional(),
    labels: z.array(text(64)).max(10).optional(),
    email: z
      .object({ subject: text(256), text: text(100_000).optional(), html: text(200_000).optional() })
      .strict()
      .optional(),
    app_ids: z.array(z.uuid()).min(1).max(20).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const r = body.recipients;
    const total = (r.custom_ids?.length ?? 0) + (r.install_ids?.length ?? 0) + (r.tokens?.length ?? 0);
    if (body.template_id === undefined && (body.message?.title === undefined || body.message?.body === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["message"],
        message: "Give message.title and message.body, or a template_id.",
      });
    if (total === 0) ctx.addIssue({ code: "custom", path: ["recipients"], message: "Name at least one recipient." });
    if (total > MAX_RECIPIENTS)
      ctx.addIssue({
        code: "custom",
        path: ["recipients"],
        message: `At most ${MAX_RECIPIENTS} recipients in all lists together (got ${total}).`,
      });
  })
  .openapi("TransactionalSend");

export type TransactionalRequest = z.infer<typeof TransactionalBody>;
/** A send once its template, if any, filled in the message. */
export type ResolvedRequest = Omit<TransactionalRequest, "message"> & { message: { title: string; body: string } };

export const MessageStatusSchema = z
  .object({
    token: z.string(),
    group_id: z.string(),
    status: z.enum(["sending", "done"]),
    recipients: z.int().openapi({ description: "Identifiers asked for." }),
    sent: z.int().openapi({ description: "Installations the message was sent to." }),
    errors: z.int(),
    tokens_deleted: z.int(),
    unreachable: z.int().openapi({ description: "Identifiers with no reachable installation." }),
    created_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .openapi("MessageStatus");

export const sendTransactional = createRoute({
  method: "post",
  path: "/transactional",
  tags,
  summary: "Send a message to up to 10,000 recipients; answered at once, sent through a queue",
  security,
  request: {
    headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
    body: { required: true, content: { "application/json": { schema: TransactionalBody } } },
  },
  responses: {
    201: {
      description: "Accepted for sending",
      content: { "application/json": { schema: z.object({ token: z.string() }) } },
    },
    200: {
      description: "The same Idempotency-Key within 24 h: the first send's token, nothing sent again",
      content: { "application/json": { schema: z.object({ token: z.string() }) } },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const getMessage = createRoute({
  method: "get",
  path: "/{token}",
  tags,
  summary: "A message's progress and outcome counts",
  security,
  request: { params: z.object({ token: z.uuid().openapi({ param: { name: "token", in: "path" } }) }) },
  responses: {
    200: { description: "The message", content: { "application/json": { schema: MessageStatusSchema } } },
    ...errorResponses,
  },
});
