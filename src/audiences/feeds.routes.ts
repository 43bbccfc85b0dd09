import { createRoute, z } from "@hono/zod-openapi";
import { errorResponsesOf } from "../lib/errors";
import { AudienceNameSchema, AudienceTypeSchema } from "./audiences.routes";

const security = [{ RestApiKey: [], ProjectId: [] }];
const NameParam = z.object({ name: AudienceNameSchema.openapi({ param: { name: "name", in: "path" } }) });

export const FeedSchema = z
  .object({
    name: z.string(),
    header: z.boolean(),
    delimiter: z.string(),
    column: z.union([z.int(), z.string()]),
    type: AudienceTypeSchema,
    mode: z.enum(["replace", "add"]),
    file: z.string().openapi({ description: "Where to drop the file, in the EXPORTS bucket." }),
    updated_at: z.string(),
  })
  .openapi("AudienceFeed");

export const putFeed = createRoute({
  method: "put",
  path: "/{name}",
  tags: ["audiences"],
  summary: "Configure how inbox/{project_id}/audiences/{name}.csv is read; creates audience {name} when missing",
  security,
  request: {
    params: NameParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              header: z.boolean(),
              delimiter: z
                .string()
                .min(1)
                .max(4)
                .refine((d) => !/["\r\n]/.test(d), "A delimiter cannot hold a quote or a line break.")
                .default(","),
              column: z.union([z.int().min(0).max(1000), z.string().min(1).max(200)]).default(0),
              type: AudienceTypeSchema,
              mode: z.enum(["replace", "add"]).default("replace"),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    200: { description: "The feed", content: { "application/json": { schema: FeedSchema } } },
    ...errorResponsesOf(400, 401, 403, 409),
  },
});

export const listRuns = createRoute({
  method: "get",
  path: "/{name}/runs",
  tags: ["audiences"],
  summary: "The feed's most recent 100 runs, newest first",
  security,
  request: { params: NameParam },
  responses: {
    200: {
      description: "Runs",
      content: {
        "application/json": {
          schema: z.object({
            runs: z.array(
              z.object({
                run_id: z.string(),
                file: z.string(),
                lines: z.int(),
                ids: z.int(),
                rejected: z.int(),
                status: z.enum(["running", "done", "failed"]),
                reason: z.string().optional(),
                started_at: z.string(),
              }),
            ),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});
