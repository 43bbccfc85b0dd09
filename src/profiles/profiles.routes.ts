import { createRoute, z } from "@hono/zod-openapi";
import { VIEW_INSTALLATIONS } from "../identity/custom-id-members";
import { CustomIdSchema, InstallationIdSchema } from "../identity/identifiers";
import { errorResponsesOf } from "../lib/errors";
import { MAX_MASS_UPDATE_OPERATIONS, MAX_UPDATE_OPERATIONS } from "./operations";

const FlatValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]);
const FlatObject = z.record(z.string(), FlatValue);

const AttributeView = z.object({
  value: FlatValue,
  type: z.string().nullable(),
  updated_at: z.string(),
  source: z.enum(["api", "sdk", "sdk_auto"]),
});

export const ProfileViewSchema = z
  .object({
    profile_id: z.string(),
    custom_id: z.string().nullable(),
    state: z.enum(["active", "orphaned"]),
    created_at: z.string(),
    last_activity_at: z.string(),
    version: z.int(),
    installations: z.array(
      z.object({
        installation_id: z.string(),
        app_id: z.string().nullable(),
        platform: z.string().nullable(),
        app_version: z.string().nullable(),
        sdk_version: z.string().nullable(),
        os_version: z.string().nullable(),
        device_model: z.string().nullable(),
        push: z.object({
          provider: z.string().nullable(),
          token: z.string().nullable(),
          opted_in: z.boolean().nullable(),
        }),
        first_seen_at: z.string().nullable(),
        last_seen_at: z.string().nullable(),
      }),
    ),
    installations_not_shown: z.int().openapi({
      description: `Attached installations beyond those listed: the view lists the ${VIEW_INSTALLATIONS} most recently seen.`,
    }),
    attributes: z.record(z.string(), AttributeView),
    events: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        time: z.string(),
        attributes: z.record(z.string(), z.union([FlatValue, FlatObject, z.array(FlatObject)])),
        label: z.string().nullable(),
        tags: z.array(z.string()),
      }),
    ),
    identity_history: z.array(
      z.object({
        time: z.string(),
        kind: z.string(),
        installation_id: z.string().nullable(),
        custom_id: z.string().nullable(),
        source: z.string(),
        request_id: z.string().nullable(),
      }),
    ),
  })
  .openapi("Profile");

export const ProfileLookupQuery = z
  .object({
    custom_id: CustomIdSchema.optional().openapi({ param: { name: "custom_id", in: "query" } }),
    installation_id: InstallationIdSchema.optional().openapi({ param: { name: "installation_id", in: "query" } }),
    profile_id: z
      .uuid()
      .transform((s) => s.toLowerCase())
      .optional()
      .openapi({ param: { name: "profile_id", in: "query" } }),
  })
  .strict()
  .refine((q) => [q.custom_id, q.installation_id, q.profile_id].filter((v) => v !== undefined).length === 1, {
    message: "Give exactly one of custom_id, installation_id or profile_id.",
    path: [],
  });

export const getProfile = createRoute({
  method: "get",
  path: "/",
  tags: ["profiles"],
  summary:
    "The debug view of a profile: identifiers, installations, attributes with source and time, events, identity history",
  security: [{ RestApiKey: [], ProjectId: [] }],
  request: { query: ProfileLookupQuery },
  responses: {
    200: { description: "The profile", content: { "application/json": { schema: ProfileViewSchema } } },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});

const security = [{ RestApiKey: [], ProjectId: [] }];

const OperationsBody = (max: number) =>
  z
    .array(z.unknown())
    .min(1, "Send at least one operation.")
    .max(max, `At most ${max} operations per request.`)
    .openapi({ type: "array", items: { $ref: "#/components/schemas/ProfileOperation" }, maxItems: max });

const PartialErrors = z.array(
  z.object({
    bulk_index: z.int(),
    category: z.string(),
    reason: z.string(),
    attribute: z.string().optional(),
  }),
);

export const updateProfiles = createRoute({
  method: "post",
  path: "/update",
  tags: ["profiles"],
  summary: "Update profiles (Batch Profile API compatible; also served at /2.{minor}/profiles/update)",
  description:
    "At most 200 operations, applied before the response. Invalid operations are skipped and reported by `bulk_index`; the valid ones are applied.",
  security,
  request: {
    body: { required: true, content: { "application/json": { schema: OperationsBody(MAX_UPDATE_OPERATIONS) } } },
  },
  responses: {
    202: {
      description: "Applied",
      content: {
        "application/json": {
          schema: z.object({
            code: z.enum(["SUCCESS", "SUCCESS_WITH_PARTIAL_ERRORS"]),
            errors: PartialErrors.optional(),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const massUpdateProfiles = createRoute({
  method: "post",
  path: "/mass-update",
  tags: ["profiles"],
  summary: "Update up to 10,000 profiles asynchronously (also served at /2.{minor}/profiles/mass-update)",
  description: "Validated up front, then applied through a queue; follow progress at GET /v1/requests/{request_id}.",
  security,
  request: {
    body: { required: true, content: { "application/json": { schema: OperationsBody(MAX_MASS_UPDATE_OPERATIONS) } } },
  },
  responses: {
    202: {
      description: "Queued",
      content: {
        "application/json": {
          schema: z.object({
            code: z.enum(["SUCCESS", "SUCCESS_WITH_PARTIAL_ERRORS"]),
            request_id: z.string(),
            errors: PartialErrors.optional(),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});
