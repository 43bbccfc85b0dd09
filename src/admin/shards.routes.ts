import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../lib/errors";

const security = [{ AdminToken: [] }];

const ShardProject = z.object({
  project_id: z.string(),
  profiles: z.int().openapi({ description: "Profile rows (active, orphaned and removed tombstones)." }),
  rows: z.int().openapi({ description: "Every projection row of the project on this shard." }),
});

const ShardSchema = z
  .object({
    shard: z.string().openapi({ description: "The D1 binding, `PROJECTION_<n>`.", example: "PROJECTION_1" }),
    rows: z.int().openapi({
      description:
        "Projection rows on the shard (profiles, attributes, array items, installations, audiences and their members), whatever their project.",
    }),
    bytes: z.int().openapi({
      description: "The D1 database's size. PROJECTION_0 is the control database too: its size counts both.",
    }),
    projects: z.array(ShardProject).openapi({ description: "The projects the directory places on the shard." }),
  })
  .openapi("Shard");

export const ShardsQuery = z
  .object({
    shard: z
      .string()
      .regex(/^PROJECTION_\d{1,4}$/, "A shard's name, PROJECTION_<n>.")
      .optional()
      .openapi({ param: { name: "shard", in: "query" }, description: "Only this shard." }),
  })
  .strict();

export const listShards = createRoute({
  method: "get",
  path: "/shards",
  tags: ["admin"],
  summary: "The projection shards: their projects, row counts and size",
  description:
    "Counts every projection row of each shard listed (an index scan per table): an operator's look, not something to poll.",
  security,
  request: { query: ShardsQuery },
  responses: {
    200: {
      description: "The shards, in binding order",
      content: { "application/json": { schema: z.object({ shards: z.array(ShardSchema) }) } },
    },
    ...errorResponses,
  },
});

export const moveProject = createRoute({
  method: "post",
  path: "/projects/{project_id}/move",
  tags: ["admin"],
  summary: "Move a project's projection to another shard while its traffic goes on",
  description:
    "A job: writes land on both shards while the Durable Objects replay the project into the new one; the directory then flips, and the old rows are deleted. The same request for a failed move resumes it.",
  security,
  request: {
    params: z.object({ project_id: z.uuid().openapi({ param: { name: "project_id", in: "path" } }) }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              shard: z.string().openapi({ description: "A shard's name as listed.", example: "PROJECTION_1" }),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: z.object({ job: z.literal("move"), request_id: z.string() }) } },
    },
    ...errorResponses,
  },
});

export const getMove = createRoute({
  method: "get",
  path: "/jobs/move/{request_id}",
  tags: ["admin"],
  summary: "A project move's progress",
  security,
  request: { params: z.object({ request_id: z.uuid().openapi({ param: { name: "request_id", in: "path" } }) }) },
  responses: {
    200: {
      description: "The move",
      content: {
        "application/json": {
          schema: z
            .object({
              request_id: z.string(),
              project_id: z.string(),
              from: z.string(),
              to: z.string(),
              status: z.enum(["pending", "done", "failed"]),
              phase: z.enum(["dual", "copy", "flipped", "cleanup", "delete", "done"]),
              error: z.string().optional(),
            })
            .openapi("ShardMove"),
        },
      },
    },
    ...errorResponses,
  },
});
