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
