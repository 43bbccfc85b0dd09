import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, errorResponsesOf } from "../lib/errors";

const security = [{ RestApiKey: [], ProjectId: [] }];

const IdentifierType = z.enum(["custom_id", "installation_id"]);
const RequestType = z.enum(["review", "remove"]);
const Identifier = z.object({ type: IdentifierType, value: z.string() }).strict();
const CallbackUrl = z.url().max(2048).optional().openapi({
  description: "The final state is POSTed here, signed with the project's secret (Standard Webhooks).",
});

export const OurBody = z.object({ type: RequestType, identifier: Identifier, callback_url: CallbackUrl }).strict();
export const BatchBody = z.object({ request_type: RequestType, id: Identifier, callback_url: CallbackUrl }).strict();

/** Which of the two shapes a body means to be: Batch's names its fields `request_type` and `id`. */
export const branchOf = (body: unknown) =>
  typeof body === "object" && body !== null && ("request_type" in body || "id" in body) ? BatchBody : OurBody;

/** Our body, or Batch's (`request_type`, `id`); both come out the same after validation. */
export const CreatePrivacyRequestBody = z.union([OurBody, BatchBody]).openapi("CreatePrivacyRequest", {
  example: { type: "remove", identifier: { type: "custom_id", value: "user-42" } },
});

export const PrivacyRequestSchema = z
  .object({
    request_id: z.string(),
    type: RequestType,
    identifier: z.object({ type: IdentifierType, value: z.string() }),
    status: z.enum(["pending", "done", "failed"]),
    error: z.string().optional().openapi({ description: "`not_found`, `custom_id_required` or `internal`." }),
    created_at: z.string(),
    completed_at: z.string().nullable(),
    receipt: z.record(z.string(), z.unknown()).optional().openapi({ description: "What a remove deleted where." }),
    archive_url: z.string().optional(),
    callback: z
      .object({
        url: z.string(),
        state: z.enum(["pending", "delivered", "failed"]).nullable(),
        attempts: z.int(),
        last_error: z.string().nullable(),
      })
      .optional(),
  })
  .openapi("PrivacyRequest");

const RequestIdParam = z.object({
  request_id: z.uuid().openapi({ param: { name: "request_id", in: "path" } }),
});

export const createRequest = createRoute({
  method: "post",
  path: "/requests",
  tags: ["privacy"],
  summary: "Ask for a review (archive) or a removal of a profile, processed asynchronously",
  security,
  request: { body: { required: true, content: { "application/json": { schema: CreatePrivacyRequestBody } } } },
  responses: {
    202: { description: "Accepted", content: { "application/json": { schema: z.object({ request_id: z.string() }) } } },
    409: {
      description: "CUSTOM_ID_REQUIRED: the installation's profile holds a custom ID; ask by custom ID",
      content: errorResponses[400].content,
    },
    ...errorResponses,
  },
});

export const listRequests = createRoute({
  method: "get",
  path: "/requests",
  tags: ["privacy"],
  summary: "The project's privacy requests, newest first",
  security,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(50),
      cursor: z.uuid().optional().openapi({ description: "`next_cursor` of the previous page." }),
    }),
  },
  responses: {
    200: {
      description: "A page of requests",
      content: {
        "application/json": {
          schema: z.object({ requests: z.array(PrivacyRequestSchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

export const getRequest = createRoute({
  method: "get",
  path: "/requests/{request_id}",
  tags: ["privacy"],
  summary: "One privacy request: its status, and a remove's receipt",
  security,
  request: { params: RequestIdParam },
  responses: {
    200: { description: "The request", content: { "application/json": { schema: PrivacyRequestSchema } } },
    ...errorResponses,
  },
});

export const getArchive = createRoute({
  method: "get",
  path: "/requests/{request_id}/archive",
  tags: ["privacy"],
  summary: "A completed review's archive: everything held on the profile, as JSON",
  security,
  request: { params: RequestIdParam },
  responses: {
    200: { description: "The archive", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
    ...errorResponses,
    ...errorResponsesOf(410),
  },
});
