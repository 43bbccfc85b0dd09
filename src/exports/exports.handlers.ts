import type { RouteHandler } from "@hono/zod-openapi";
import { and, asc, eq, gt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { exportFiles, projects } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { previousUtcDay } from "./daily";
import type * as routes from "./exports.routes";
import type { DailyKind } from "./files";
import { startDailyExports } from "./jobs";
import { DEFAULT_FIELDS, profilesExportKey, queueProfilesExport, validateWhere } from "./profiles-export";
import { dailyFileExpired, refuseExpiredProfileExport } from "./retention";

const PAGE = 1000;

const badCursor = () =>
  new ApiError("VALIDATION_FAILED", "The cursor is not one this API returned.", {
    issues: [{ path: "cursor", message: "Invalid cursor." }],
  });

function decodeCursor(cursor: string): [string, string, string] {
  try {
    const value = JSON.parse(atob(cursor)) as unknown;
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "string")) {
      return value as [string, string, string];
    }
  } catch {}
  throw badCursor();
}

export const listExports: RouteHandler<typeof routes.listExports, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { type, date, cursor } = c.req.valid("query");
  const conditions: (SQL | undefined)[] = [
    eq(exportFiles.projectId, projectId),
    type ? eq(exportFiles.kind, type) : undefined,
    date ? eq(exportFiles.date, date) : undefined,
  ];
  if (cursor) {
    const [d, a, k] = decodeCursor(cursor);
    conditions.push(
      or(
        gt(exportFiles.date, d),
        and(eq(exportFiles.date, d), gt(exportFiles.appId, a)),
        and(eq(exportFiles.date, d), eq(exportFiles.appId, a), gt(exportFiles.kind, k)),
      ),
    );
  }
  const rows = await drizzle(c.env.DB)
    .select()
    .from(exportFiles)
    .where(and(...conditions))
    .orderBy(asc(exportFiles.date), asc(exportFiles.appId), asc(exportFiles.kind))
    .limit(PAGE + 1);
  const page = rows.slice(0, PAGE);
  const last = page.at(-1);
  return c.json(
    {
      files: page.map((r) => ({
        key: `${r.appId}/${r.kind}/${r.date}.csv`,
        app_id: r.appId,
        type: r.kind as DailyKind,
        date: r.date,
        rows: r.rows,
        bytes: r.bytes,
        sha256: r.sha256,
      })),
      next_cursor: rows.length > PAGE && last ? btoa(JSON.stringify([last.date, last.appId, last.kind])) : null,
    },
    200,
  );
};

/** Streams an R2 object; the key is always built from validated parts under the caller's project. */
export async function streamObject(bucket: R2Bucket, key: string, name: string): Promise<Response> {
  const object = await bucket.get(key);
  if (!object) throw new ApiError("NOT_FOUND", `No export ${name}.`);
  const json = key.endsWith(".json");
  return new Response(object.body, {
    headers: {
      "Content-Type": json ? "application/json" : "text/csv; charset=utf-8",
      "Content-Length": String(object.size),
      ETag: object.httpEtag,
      ...(json ? {} : { "Content-Disposition": `attachment; filename="${name.replaceAll("/", "_")}"` }),
    },
  });
}

export const downloadDaily: RouteHandler<typeof routes.downloadDaily, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { app_id, kind, file } = c.req.valid("param");
  const name = `${app_id}/${kind}/${file}`;
  // Past the project's retention a daily file is gone, whether or not the cron has deleted it yet.
  const project = await drizzle(c.env.DB)
    .select({ days: projects.exportRetentionDays })
    .from(projects)
    .where(eq(projects.id, projectId))
    .get();
  const days = project?.days ?? 30;
  if (dailyFileExpired(file.slice(0, 10), days, Date.now())) {
    throw new ApiError("GONE", `Daily files are kept ${days} days; ${name} has expired.`);
  }
  return streamObject(c.env.EXPORTS, `exports/${projectId}/${name}`, name) as never;
};

export const downloadProfiles: RouteHandler<typeof routes.downloadProfiles, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { file } = c.req.valid("param");
  const requestId = file.slice(0, -".csv".length);
  await refuseExpiredProfileExport(c.env, projectId, requestId, Date.now());
  return streamObject(c.env.EXPORTS, profilesExportKey(projectId, requestId), `profiles/${file}`) as never;
};

export const createExport: RouteHandler<typeof routes.createExport, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const body = c.req.valid("json");
  const where = await validateWhere(c.env, projectId, body.where);
  const requestId = uuidv7();
  await queueProfilesExport(c.env, projectId, where, body.fields ?? DEFAULT_FIELDS, requestId);
  return c.json({ request_id: requestId }, 202);
};

export const runDailyJob: RouteHandler<typeof routes.runDailyJob, AppEnv> = async (c) => {
  callerOf(c, "admin");
  const { date = previousUtcDay(new Date()) } = c.req.valid("json") ?? {};
  const job = uuidv7();
  await startDailyExports(c.env, date, job);
  return c.json({ job: "daily_exports" as const, request_id: job }, 202);
};
