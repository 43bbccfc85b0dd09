import { createRoute, z } from "@hono/zod-openapi";
import { AudienceNameSchema, AudienceTypeSchema, MAX_JSON_IDS } from "../audiences/audiences.routes";
import { errorResponsesOf } from "../lib/errors";

const security = [{ RestApiKey: [], ProjectId: [] }];
/** Each list is one D1 query naming its audiences: within the 100 bound parameters. */
export const MAX_LIST_LIMIT = 50;

const Name = z.object({ name: AudienceNameSchema });
const IndexingToken = {
  202: {
    description: "Accepted; follow it with /audiences/view?indexing_token=",
    content: { "application/json": { schema: z.object({ indexing_token: z.string() }) } },
  },
};
const IndexingState = z.enum(["IN_PROGRESS", "APPLIED", "REPLACED"]);
export const BatchAudience = z
  .object({
    name: z.string(),
    display_name: z.string().nullable(),
    type: AudienceTypeSchema,
    nb_ids: z.int(),
    indexing_state: IndexingState,
    created: z.string(),
    updated: z.string(),
  })
  .openapi("BatchAudience");

const post = <S extends z.ZodType>(path: string, summary: string, schema: S) =>
  createRoute({
    method: "post",
    path,
    tags: ["batch"],
    summary,
    security,
    request: { body: { required: true, content: { "application/json": { schema } } } },
    responses: { ...IndexingToken, ...errorResponsesOf(400, 401, 403, 404) },
  });

export const createAudience = post(
  "/create",
  "Batch Audience API: create an audience (the same audiences as /v1/audiences)",
  Name.extend({ type: AudienceTypeSchema, display_name: z.string().max(500).nullable().optional() }).strict(),
);

export const updateAudience = post(
  "/update",
  "Batch Audience API: add and remove IDs (the last action on an ID wins)",
  Name.extend({
    ids: z
      .array(z.object({ action: z.enum(["add", "remove"]), id: z.string() }).strict())
      .max(MAX_JSON_IDS, `At most ${MAX_JSON_IDS} IDs per request.`),
  }).strict(),
);

export const replaceAudience = post(
  "/replace",
  "Batch Audience API: replace the IDs",
  Name.extend({ ids: z.array(z.string()).max(MAX_JSON_IDS, `At most ${MAX_JSON_IDS} IDs per request.`) }).strict(),
);

export const removeAudience = post("/remove", "Batch Audience API: delete an audience", Name.strict());

export const listAudiences = createRoute({
  method: "get",
  path: "/list",
  tags: ["batch"],
  summary: "Batch Audience API: the project's audiences by name, a page at a time",
  security,
  request: {
    query: z
      .object({
        from: z.string().optional().openapi({ description: "The `next_from` of the previous page." }),
        limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(20),
      })
      .strict(),
  },
  responses: {
    200: {
      description: "A page",
      content: {
        "application/json": {
          schema: z.object({
            audiences: z.array(BatchAudience),
            count: z.int(),
            has_more: z.boolean(),
            next_from: z.string().nullable(),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const viewAudience = createRoute({
  method: "get",
  path: "/view",
  tags: ["batch"],
  summary: "Batch Audience API: one audience, with the indexing state of a token",
  security,
  request: {
    query: z.object({ name: AudienceNameSchema, indexing_token: z.string().max(100).optional() }).strict(),
  },
  responses: {
    200: { description: "The audience", content: { "application/json": { schema: BatchAudience } } },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});
