import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../lib/errors";

const security = [{ AdminToken: [] }];

const PurgeJobParam = z.object({
  job: z.literal("purge").openapi({ param: { name: "job", in: "path" } }),
});

export const PurgeBody = z
  .object({
    as_of: z.iso.datetime({ offset: true }).optional().openapi({
      description: "Purge as if it were this time (default now): profiles inactive for the project's period before it.",
    }),
    dry_run: z.boolean().optional().openapi({ description: "Report what would be deleted; delete nothing." }),
  })
  .strict();

const PurgeStatus = z
  .object({
    job: z.literal("purge"),
    request_id: z.string(),
    as_of: z.string(),
    dry_run: z.boolean(),
    origin: z.enum(["cron", "admin"]),
    status: z.enum(["pending", "done", "failed"]),
    error: z
      .string()
      .optional()
      .openapi({ description: "Why the job failed: pages that failed every retry (listed in the dead letters)." }),
    created_at: z.string(),
    totals: z.record(z.string(), z.record(z.string(), z.int())),
    results: z.array(
      z.object({
        project_id: z.string(),
        profile_id: z.string(),
        kind: z.enum(["inactive", "orphan"]),
        outcome: z.enum(["removed", "would_remove", "spared"]),
        detail: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .openapi("PurgeJob");

export const runJob = createRoute({
  method: "post",
  path: "/jobs/{job}",
  tags: ["admin"],
  summary: "Run the inactive-profile purge now, as the 03:30 UTC cron would (or as of another time)",
  security,
  request: {
    params: PurgeJobParam,
    body: { required: false, content: { "application/json": { schema: PurgeBody } } },
  },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: z.object({ job: z.literal("purge"), request_id: z.string() }) } },
    },
    ...errorResponses,
  },
});

export const getJob = createRoute({
  method: "get",
  path: "/jobs/{job}/{request_id}",
  tags: ["admin"],
  summary: "A purge's progress and what it removed, spared or (dry run) would remove",
  security,
  request: {
    params: PurgeJobParam.extend({ request_id: z.uuid().openapi({ param: { name: "request_id", in: "path" } }) }),
  },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: PurgeStatus } } },
    ...errorResponses,
  },
});
