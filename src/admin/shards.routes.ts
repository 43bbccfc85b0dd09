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
  summary: "Move a project's projection to another shard, or split it over several, while its traffic goes on",
  description:
    "A job: writes land under both placements while the Durable Objects replay the project into the new one; the directory then flips, and the old rows are deleted. The same request for a failed move resumes it; one that has not flipped can be rolled back instead.",
  security,
  request: {
    params: z.object({ project_id: z.uuid().openapi({ param: { name: "project_id", in: "path" } }) }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              shard: z.string().optional().openapi({
                description: "A shard's name as listed: the project moves there whole.",
                example: "PROJECTION_1",
              }),
              shards: z
                .array(z.string())
                .min(1)
                .max(64)
                .optional()
                .openapi({
                  description:
                    "Shards' names as listed, by position: the project is split over them, a profile on position fnv1a(profile_id) mod k. One of `shard` and `shards`.",
                  example: ["PROJECTION_1", "PROJECTION_2"],
                }),
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
              from: z
                .union([z.string(), z.array(z.string())])
                .openapi({ description: "The project's shard, or its shards by position when it was split." }),
              to: z
                .union([z.string(), z.array(z.string())])
                .openapi({ description: "As the move was asked: `shard` a name, `shards` the list." }),
              status: z.enum(["pending", "done", "failed"]).openapi({
                description: "A rolled-back move is `failed`, with phase `rolled_back`.",
              }),
              phase: z.enum(["dual", "copy", "flipped", "cleanup", "delete", "done", "rollback", "rolled_back"]),
              error: z.string().optional(),
            })
            .openapi("ShardMove"),
        },
      },
    },
    ...errorResponses,
  },
});

export const rollbackMove = createRoute({
  method: "post",
  path: "/jobs/move/{request_id}/rollback",
  tags: ["admin"],
  summary: "Roll back a project move that has not flipped",
  description:
    "Ends the dual writes, then deletes from the new shards what the move wrote there; the project stays where it is. Refused (409) once the directory has flipped: resume the move, then move the project back. Asked again for a rollback that failed, it resumes.",
  security,
  request: { params: z.object({ request_id: z.uuid().openapi({ param: { name: "request_id", in: "path" } }) }) },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: z.object({ job: z.literal("move"), request_id: z.string() }) } },
    },
    ...errorResponses,
  },
});
