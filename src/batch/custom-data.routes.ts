import { createRoute, z } from "@hono/zod-openapi";
import { AttributesObject } from "../identity/attributes";
import { CustomIdSchema } from "../identity/identifiers";
import { errorResponsesOf } from "../lib/errors";
import { MAX_MASS_UPDATE_OPERATIONS } from "../profiles/operations";

/** Batch's `/1.x/{API_KEY}` paths: the app's SDK key in the path, the REST key in X-Authorization. */
export const batchSecurity = [{ BatchRestKey: [] }];

export const ApiKeyParam = z.string().openapi({
  param: { name: "api_key", in: "path" },
  description: "An app's SDK API key: it names the app, and so the project.",
});

const UserParams = z.object({
  api_key: ApiKeyParam,
  custom_id: CustomIdSchema.openapi({ param: { name: "custom_id", in: "path" } }),
});

export const CustomDataUpdate = z
  .object({
    overwrite: z
      .boolean()
      .optional()
      .openapi({ description: "true: `values` become the profile's whole set of custom attributes and tags." }),
    // Optional here so that its absence is Batch's MISSING_PARAMETER (30), not a malformed body.
    values: AttributesObject.optional().openapi({
      description:
        "`u.name` an attribute, `date(u.name)` a date (ISO 8601, UTC when no zone, or epoch seconds), `url(u.name)` a URL, `ut.name` a tag collection (array, or `$add`/`$remove`); null deletes.",
      example: { "u.credit": 30000, "date(u.date_of_birth)": "2005-03-04T00:00:00", "ut.roles": ["BENEFICIARY"] },
    }),
  })
  .strict()
  .openapi("BatchCustomDataUpdate");

const Token = z.object({ token: z.string() });
const tokenResponse = (description: string) => ({ description, content: { "application/json": { schema: Token } } });

export const updateUser = createRoute({
  method: "post",
  path: "/1.0/{api_key}/data/users/{custom_id}",
  tags: ["batch"],
  summary: "Batch Custom Data API: update one user's custom attributes and tags",
  description: "Applied before the answer, as POST /v1/profiles/update; an unknown custom ID gets a profile.",
  security: batchSecurity,
  request: {
    params: UserParams,
    body: { required: true, content: { "application/json": { schema: CustomDataUpdate } } },
  },
  responses: { 202: tokenResponse("Applied"), ...errorResponsesOf(400, 401) },
});

export const deleteUser = createRoute({
  method: "delete",
  path: "/1.0/{api_key}/data/users/{custom_id}",
  tags: ["batch"],
  summary: "Batch Custom Data API: remove a user's custom attributes and tags",
  description: "Identity, installations, native attributes and events stay.",
  security: batchSecurity,
  request: { params: UserParams },
  responses: { 200: tokenResponse("Removed"), ...errorResponsesOf(400, 401) },
});

export const bulkUpdateUsers = createRoute({
  method: "post",
  path: "/1.0/{api_key}/data/users",
  tags: ["batch"],
  summary: "Batch Custom Data API, bulk: up to 10,000 users, applied as a mass update",
  description:
    "Validated whole (any invalid item, or more than 10,000, refuses it all); progress at GET /v1/requests/{request_id}.",
  security: batchSecurity,
  request: {
    params: z.object({ api_key: ApiKeyParam }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .array(z.object({ id: z.string(), update: CustomDataUpdate }).strict())
            .min(1, "Send at least one user.")
            .max(MAX_MASS_UPDATE_OPERATIONS, `At most ${MAX_MASS_UPDATE_OPERATIONS} users per request.`),
        },
      },
    },
  },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: z.object({ token: z.string(), request_id: z.string() }) } },
    },
    ...errorResponsesOf(400, 401),
  },
});
