import { createRoute, z } from "@hono/zod-openapi";
import { ErrorEnvelopeSchema, errorResponsesOf } from "../lib/errors";
import { requireMemberBody } from "./content-type";

/** At most this many IDs in a JSON replace and in each list of a patch; larger sets go as CSV. */
export const MAX_JSON_IDS = 10_000;
/** At most this many IDs (lines with a value, header aside) in a CSV replace. */
export const MAX_CSV_IDS = 1_000_000;

const security = [{ RestApiKey: [], ProjectId: [] }];

const errorContent = { "application/json": { schema: ErrorEnvelopeSchema } };

export const AudienceTypeSchema = z.enum(["custom_ids", "installation_ids"]).openapi("AudienceType");

export const AudienceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, "An audience name is 1 to 100 letters, digits, `_` or `-`.")
  .openapi({ example: "vip-customers" });

export const AudienceSchema = z
  .object({
    name: z.string(),
    type: AudienceTypeSchema,
    description: z.string().nullable(),
    size: z.int().openapi({ description: "The number of distinct members." }),
    created_at: z.string(),
    updated_at: z.string().openapi({ description: "When the audience or its members last changed." }),
  })
  .openapi("Audience");

const NameParam = z.object({ name: AudienceNameSchema.openapi({ param: { name: "name", in: "path" } }) });

const IdList = z.array(z.string()).max(MAX_JSON_IDS, `At most ${MAX_JSON_IDS} IDs; send larger sets as text/csv.`);

const ok = (description: string) => ({
  description,
  content: { "application/json": { schema: AudienceSchema } },
});

export const createAudience = createRoute({
  method: "post",
  path: "/",
  tags: ["audiences"],
  summary: "Create a custom audience (empty until its members are sent)",
  security,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              name: AudienceNameSchema,
              type: AudienceTypeSchema,
              description: z.string().max(500, "A description is at most 500 characters.").nullable().optional(),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: ok("Created"),
    ...errorResponsesOf(400, 401, 403),
    409: { description: "An audience with this name exists", content: errorContent },
  },
});

export const listAudiences = createRoute({
  method: "get",
  path: "/",
  tags: ["audiences"],
  summary: "The project's audiences, by name",
  security,
  responses: {
    200: {
      description: "The audiences",
      content: { "application/json": { schema: z.object({ audiences: z.array(AudienceSchema) }) } },
    },
    ...errorResponsesOf(401, 403),
  },
});

export const getAudience = createRoute({
  method: "get",
  path: "/{name}",
  tags: ["audiences"],
  summary: "An audience, with its size and when it last changed",
  security,
  request: { params: NameParam },
  responses: { 200: ok("The audience"), ...errorResponsesOf(400, 401, 403, 404) },
});

export const replaceMembers = createRoute({
  method: "put",
  path: "/{name}",
  tags: ["audiences"],
  summary: "Replace the members: JSON {ids} (at most 10,000) or a one-column CSV (at most 1,000,000)",
  description: [
    "The CSV is read as it arrives: one ID per line, LF or CRLF, blank lines skipped, values may be",
    'double-quoted (`""` is a quote), whitespace around a value trimmed, duplicates ignored. A first line',
    "`id`, `custom_id`, `installation_id` or `custom_user_id` is a header. Installation IDs are stored",
    "lowercase. Any invalid line refuses the whole body (issues name it: `line 12`) and the members stay",
    "as they were. An empty body is refused; a header alone empties the audience.",
  ].join(" "),
  security,
  middleware: [requireMemberBody] as const,
  request: {
    params: NameParam,
    body: {
      // Either content type; `requireMemberBody` refuses a request that sends neither.
      required: false,
      content: {
        "application/json": { schema: z.object({ ids: IdList }).strict() },
        // Documentation only: zod-openapi validates JSON and forms; the handler streams the CSV.
        "text/csv": { schema: z.string().openapi({ example: "custom_id\nuser-1\nuser-2\n" }) },
      },
    },
  },
  responses: {
    200: ok("Replaced"),
    ...errorResponsesOf(400, 401, 403, 404),
    409: { description: "Another request replaced the members at the same time", content: errorContent },
    415: { description: "Neither application/json nor text/csv", content: errorContent },
  },
});

export const patchMembers = createRoute({
  method: "patch",
  path: "/{name}",
  tags: ["audiences"],
  summary: "Add and remove members",
  security,
  request: {
    params: NameParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({ add: IdList.optional(), remove: IdList.optional() })
            .strict()
            .refine((b) => (b.add?.length ?? 0) + (b.remove?.length ?? 0) > 0, {
              message: "Send at least one ID in `add` or `remove`.",
              path: [],
            }),
        },
      },
    },
  },
  responses: { 200: ok("Updated"), ...errorResponsesOf(400, 401, 403, 404) },
});

export const deleteAudience = createRoute({
  method: "delete",
  path: "/{name}",
  tags: ["audiences"],
  summary: "Delete an audience and its members",
  security,
  request: { params: NameParam },
  responses: { 204: { description: "Deleted" }, ...errorResponsesOf(400, 401, 403, 404) },
});
