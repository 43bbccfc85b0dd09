import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, errorResponsesOf } from "../lib/errors";
import { DAILY_KINDS } from "./files";

const rest = [{ RestApiKey: [], ProjectId: [] }];

/** A real calendar day, YYYY-MM-DD. */
export const DateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "Expected a date as YYYY-MM-DD.")
  .refine(
    (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
    {
      message: "Not a calendar date.",
    },
  );

const ExportFile = z
  .object({
    key: z.string().openapi({ description: "`{app_id}/{kind}/{YYYY-MM-DD}.csv`, the path under /v1/exports/." }),
    app_id: z.string(),
    type: z.enum(DAILY_KINDS),
    date: z.string(),
    rows: z.int(),
    bytes: z.int(),
    sha256: z.string(),
  })
  .openapi("ExportFile");

export const listExports = createRoute({
  method: "get",
  path: "/",
  tags: ["exports"],
  summary: "List the project's daily export files",
  security: rest,
  request: {
    query: z.object({
      type: z.enum(DAILY_KINDS).optional(),
      date: DateSchema.optional(),
      cursor: z.string().max(200).optional(),
    }),
  },
  responses: {
    200: {
      description: "The files, by date then app then type; at most 1,000 a page",
      content: {
        "application/json": {
          schema: z.object({ files: z.array(ExportFile), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const csvOrJson = {
  "text/csv": { schema: z.string() },
  "application/json": { schema: z.object({ rows: z.int(), bytes: z.int(), sha256: z.string() }) },
};

export const downloadDaily = createRoute({
  method: "get",
  path: "/{app_id}/{kind}/{file}",
  tags: ["exports"],
  summary: "Stream one daily file or its manifest",
  security: rest,
  request: {
    params: z.object({
      app_id: z.uuid().openapi({ param: { name: "app_id", in: "path" } }),
      kind: z.enum(DAILY_KINDS).openapi({ param: { name: "kind", in: "path" } }),
      file: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}\.(csv|manifest\.json)$/, "Expected YYYY-MM-DD.csv or YYYY-MM-DD.manifest.json.")
        .openapi({ param: { name: "file", in: "path" } }),
    }),
  },
  responses: { 200: { description: "The file", content: csvOrJson }, ...errorResponses, ...errorResponsesOf(410) },
});

export const downloadProfiles = createRoute({
  method: "get",
  path: "/profiles/{file}",
  tags: ["exports"],
  summary: "Stream an on-demand profile export",
  description: "An on-demand export is kept 7 days: after them it is deleted and this answers 410 GONE.",
  security: rest,
  request: {
    params: z.object({
      file: z
        .string()
        .regex(/^[0-9a-f-]{36}\.csv$/, "Expected {request_id}.csv.")
        .openapi({ param: { name: "file", in: "path" } }),
    }),
  },
  responses: {
    200: { description: "The file", content: { "text/csv": { schema: z.string() } } },
    ...errorResponses,
    ...errorResponsesOf(410),
  },
});

export const FieldName = z
  .string()
  .regex(/^(\$?[a-z0-9_]{1,30}|date\([a-z0-9_]{1,30}\)|url\([a-z0-9_]{1,30}\))$/, "Not a field or attribute name.");

export const CreateExportBody = z
  .object({
    type: z.literal("profiles"),
    where: z
      .unknown()
      .optional()
      .openapi({ type: "object", description: "A segment where tree (see /v1/segments/query)." }),
    fields: z
      .array(FieldName)
      .min(1)
      .max(60)
      .refine((f) => new Set(f).size === f.length, "A field appears twice.")
      .optional()
      .openapi({
        description:
          "Columns: profile_id, custom_id, installation_ids, last_activity_at, and attribute names. Default: the first four.",
      }),
  })
  .strict();

export const createExport = createRoute({
  method: "post",
  path: "/",
  tags: ["exports"],
  summary: "Export the profiles a where tree matches as CSV; progress at /v1/requests/{id}",
  security: rest,
  request: { body: { required: true, content: { "application/json": { schema: CreateExportBody } } } },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: z.object({ request_id: z.string() }) } } },
    ...errorResponses,
  },
});

export const runDailyJob = createRoute({
  method: "post",
  path: "/daily_exports",
  tags: ["admin"],
  summary: "Run the daily exports of a UTC day now (default: yesterday)",
  security: [{ AdminToken: [] }],
  request: {
    body: {
      required: false,
      content: { "application/json": { schema: z.object({ date: DateSchema.optional() }).strict() } },
    },
  },
  responses: {
    202: {
      description: "Queued",
      content: {
        "application/json": { schema: z.object({ job: z.literal("daily_exports"), request_id: z.string() }) },
      },
    },
    ...errorResponses,
  },
});
