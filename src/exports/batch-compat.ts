import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { requestChunks, requests } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf, requireKey } from "../lib/auth";
import { ApiError, errorResponses, errorResponsesOf } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import { streamObject } from "./exports.handlers";
import { FieldName } from "./exports.routes";
import { profilesExportKey, queueProfilesExport, validateWhere } from "./profiles-export";
import { refuseExpiredProfileExport } from "./retention";
import { signDownload, verifyDownload } from "./signed-url";

/**
 * Batch's export API (`/2.{minor}/profiles/export`, `/2.{minor}/exports/{view,list,download}`),
 * served here at `/v1/batch/…` (src/app.ts rewrites the versioned paths). An export is an
 * on-demand profile export; its ID is the request ID.
 */

const rest = [{ RestApiKey: [], ProjectId: [] }];

/** Batch's identifier names → our columns. */
const IDENTIFIERS = {
  custom_id: "custom_id",
  installation_id: "installation_ids",
  installation_ids: "installation_ids",
  profile_id: "profile_id",
} as const;

const ExportBody = z
  .object({
    export_type: z.literal("ATTRIBUTES"),
    identifiers: z
      .array(z.enum(Object.keys(IDENTIFIERS) as [keyof typeof IDENTIFIERS]))
      .max(4)
      .default(["custom_id"]),
    attributes: z.array(FieldName).max(50).default([]),
    filter: z.unknown().optional().openapi({ type: "object", description: "A segment where tree." }),
  })
  .strict();

const ExportView = z
  .object({
    id: z.string(),
    status: z.enum(["CREATED", "RUNNING", "SUCCESS", "ERROR"]),
    request_date: z.string(),
    completion_date: z.string().nullable(),
    files: z.array(z.object({ id: z.string(), part: z.int(), size: z.int(), url: z.string() })),
  })
  .openapi("BatchExport");

const createExport = createRoute({
  method: "post",
  path: "/profiles/export",
  tags: ["batch"],
  summary: "Batch-compatible profile export",
  security: rest,
  request: { body: { required: true, content: { "application/json": { schema: ExportBody } } } },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: z.object({ id: z.string() }) } } },
    ...errorResponses,
  },
});

const IdQuery = z.object({ id: z.uuid() });

const viewExport = createRoute({
  method: "get",
  path: "/exports/view",
  tags: ["batch"],
  summary: "An export's status and files",
  security: rest,
  request: { query: IdQuery },
  responses: {
    200: { description: "The export", content: { "application/json": { schema: ExportView } } },
    ...errorResponses,
  },
});

const listExports = createRoute({
  method: "get",
  path: "/exports/list",
  tags: ["batch"],
  summary: "The project's 100 most recent exports",
  security: rest,
  responses: {
    200: {
      description: "The exports",
      content: { "application/json": { schema: z.object({ exports: z.array(ExportView) }) } },
    },
    ...errorResponses,
  },
});

const downloadExport = createRoute({
  method: "get",
  path: "/exports/download",
  tags: ["batch"],
  summary: "Redirects to a signed link to the file, valid 20 minutes",
  security: rest,
  request: { query: IdQuery },
  responses: { 307: { description: "To the signed link" }, ...errorResponses },
});

type Row = typeof requests.$inferSelect;

async function views(env: Env, projectId: string, rows: Row[], origin: string, now: number) {
  if (rows.length === 0) return [];
  const chunks = await drizzle(env.DB)
    .select()
    .from(requestChunks)
    .where(
      inArray(
        requestChunks.requestId,
        rows.map((r) => r.id),
      ),
    );
  return Promise.all(
    rows.map(async (r) => {
      const chunk = chunks.find((ch) => ch.requestId === r.id);
      const status = chunk ? (chunk.failed ? ("ERROR" as const) : ("SUCCESS" as const)) : ("RUNNING" as const);
      const result = r.result as { bytes: number } | null;
      const files =
        status === "SUCCESS" && result
          ? [
              {
                id: r.id,
                part: 1,
                size: result.bytes,
                url: origin + (await signDownload(env.ADMIN_TOKEN, projectId, r.id, now)),
              },
            ]
          : [];
      return { id: r.id, status, request_date: r.createdAt, completion_date: chunk?.completedAt ?? null, files };
    }),
  );
}

async function findExport(env: Env, projectId: string, id: string): Promise<Row> {
  const row = await drizzle(env.DB)
    .select()
    .from(requests)
    .where(and(eq(requests.id, id), eq(requests.projectId, projectId), eq(requests.kind, "profiles_export")))
    .get();
  if (!row) throw new ApiError("NOT_FOUND", `No export ${id}.`);
  return row;
}

const create: RouteHandler<typeof createExport, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const body = c.req.valid("json");
  const where = await validateWhere(c.env, projectId, body.filter);
  const fields = [...new Set([...body.identifiers.map((i) => IDENTIFIERS[i]), ...body.attributes])];
  if (fields.length === 0) {
    throw new ApiError("VALIDATION_FAILED", "Name at least one identifier or attribute.", {
      issues: [{ path: "attributes", message: "Empty export." }],
    });
  }
  const id = uuidv7();
  await queueProfilesExport(c.env, projectId, where, fields, id);
  return c.json({ id }, 202);
};

const view: RouteHandler<typeof viewExport, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const row = await findExport(c.env, projectId, c.req.valid("query").id);
  const [found] = await views(c.env, projectId, [row], new URL(c.req.url).origin, Date.now());
  return c.json(found as NonNullable<typeof found>, 200);
};

const list: RouteHandler<typeof listExports, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const rows = await drizzle(c.env.DB)
    .select()
    .from(requests)
    .where(and(eq(requests.projectId, projectId), eq(requests.kind, "profiles_export")))
    .orderBy(desc(requests.createdAt))
    .limit(100);
  return c.json({ exports: await views(c.env, projectId, rows, new URL(c.req.url).origin, Date.now()) }, 200);
};

const download: RouteHandler<typeof downloadExport, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const row = await findExport(c.env, projectId, c.req.valid("query").id);
  if (!row.result) throw new ApiError("NOT_FOUND", `Export ${row.id} has no file yet.`);
  const link = await signDownload(c.env.ADMIN_TOKEN, projectId, row.id, Date.now());
  return c.redirect(new URL(c.req.url).origin + link, 307);
};

export const batchExports = createRouter();
batchExports.use("*", requireKey("rest"), wellFormedText);
batchExports
  .openapi(createExport, create)
  .openapi(viewExport, view)
  .openapi(listExports, list)
  .openapi(downloadExport, download as never);

const Uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const signedDownload = createRoute({
  method: "get",
  path: "/{project_id}/{file}",
  tags: ["batch"],
  summary: "A Batch-compatible export's file, through the signed link that /2.{minor}/exports/download gives",
  description: "No key: the signature is the key. `file` is `{request_id}.csv`; the link is valid 20 minutes.",
  request: {
    params: z.object({ project_id: z.string(), file: z.string() }),
    query: z.object({ expires: z.string().optional(), signature: z.string().optional() }),
  },
  responses: {
    200: { description: "The CSV file", content: { "text/csv": { schema: z.string() } } },
    ...errorResponsesOf(403, 404, 410),
  },
});

const downloadSigned: RouteHandler<typeof signedDownload, AppEnv> = async (c) => {
  const project = c.req.param("project_id");
  const file = c.req.param("file");
  const requestId = file.endsWith(".csv") ? file.slice(0, -4) : "";
  const expires = Number(c.req.query("expires"));
  const signature = c.req.query("signature") ?? "";
  const valid =
    Uuid.test(project) &&
    Uuid.test(requestId) &&
    (await verifyDownload(c.env.ADMIN_TOKEN, project, requestId, expires, signature, Date.now()));
  if (!valid) throw new ApiError("FORBIDDEN", "This download link is invalid or has expired.");
  await refuseExpiredProfileExport(c.env, project, requestId, Date.now());
  return streamObject(c.env.EXPORTS, profilesExportKey(project, requestId), `profiles/${requestId}.csv`);
};

/** `/v1/downloads/{project}/{request}.csv?expires=&signature=`: no key, the signature is the key. */
export const signedDownloads = createRouter().openapi(signedDownload, downloadSigned as never);
