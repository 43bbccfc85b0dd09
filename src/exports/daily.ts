import { and, asc, count, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { byText, mergeAcross } from "../db/fan-out";
import { apps, exportFiles, exportHours } from "../db/schema";
import { projectionFor } from "../db/shards";
import { sendInBatches } from "../queue/send";
import type { ExportMessage } from "./exports.messages";
import {
  type Cell,
  COLUMNS,
  csvHeader,
  csvRows,
  type DailyKind,
  dailyKey,
  type EventKind,
  type Manifest,
  manifestKey,
} from "./files";
import { HOUR_LIMITS, type HourLimits, mergeHour, runKey, runRowsKey, sortHour } from "./hour-runs";
import { ObjectWriter } from "./upload";

/**
 * The daily exports (SPEC §6), in bounded pieces on the exports queue:
 *
 * 1. `daily_start` lists apps a page at a time and queues, per app, one `daily_hour` message
 *    for each UTC hour of the day and one `daily_file` for `optin_users`.
 * 2. `daily_hour` reads that hour's staged objects, keeps the push and in-app events of live
 *    profiles, sorts them and writes each kind's rows as a "run" object, holding a bounded
 *    number of events whatever the hour holds (a busy hour is merged from sorted sub-runs by
 *    `daily_merge` messages, src/exports/hour-runs.ts). The 24th hour of an app to finish
 *    queues its two files.
 * 3. `daily_file` concatenates the 24 runs in hour order behind the header, which is the file
 *    sorted by timestamp, streamed into an R2 multipart upload, then writes the manifest.
 *
 * Everything is derived from the staged events and the projection, so re-running a day writes
 * the same bytes.
 */

const EVENT_KINDS: EventKind[] = ["push_events", "inapp_events"];
const APPS_PAGE = 200;
const ROWS_PER_SLICE = 1000;

export interface DailyOptions {
  /** Multipart part size; tests lower it to exercise many parts. */
  partBytes?: number;
}

/** Yesterday in UTC, as YYYY-MM-DD. */
export function previousUtcDay(now: Date): string {
  return new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
}

export async function sendAll(env: Env, messages: ExportMessage[]): Promise<void> {
  await sendInBatches(
    env.EXPORT_TASKS,
    messages.map((body) => ({ body, contentType: "json" })),
  );
}

/** Queues one app page's work and, when there are more apps, the next page. */
export async function startDaily(env: Env, msg: Extract<ExportMessage, { type: "daily_start" }>): Promise<void> {
  const db = drizzle(env.DB);
  const conditions = [
    msg.project_id ? eq(apps.projectId, msg.project_id) : undefined,
    msg.after ? gt(apps.id, msg.after) : undefined,
  ];
  const page = await db
    .select({ id: apps.id, projectId: apps.projectId })
    .from(apps)
    .where(and(...conditions))
    .orderBy(asc(apps.id))
    .limit(APPS_PAGE);
  const work: ExportMessage[] = [];
  for (const app of page) {
    const base = { job: msg.job, project_id: app.projectId, app_id: app.id, date: msg.date };
    for (let hour = 0; hour < 24; hour++) work.push({ type: "daily_hour", ...base, hour });
    work.push({ type: "daily_file", ...base, kind: "optin_users" });
  }
  const last = page.at(-1);
  if (page.length === APPS_PAGE && last) work.push({ ...msg, after: last.id });
  await sendAll(env, work);
}

/** Sorts one app's hour into a run per kind (src/exports/hour-runs.ts), or its next piece. */
export async function runHour(
  env: Env,
  msg: Extract<ExportMessage, { type: "daily_hour" }>,
  limits: HourLimits = HOUR_LIMITS,
): Promise<void> {
  if (await sortHour(env, msg, (work) => sendAll(env, work), limits)) await finishHour(env, msg);
}

/** Merges one level of a busy hour's sub-runs; the last level writes the runs. */
export async function runMerge(
  env: Env,
  msg: Extract<ExportMessage, { type: "daily_merge" }>,
  limits: HourLimits = HOUR_LIMITS,
): Promise<void> {
  if (await mergeHour(env, msg, (work) => sendAll(env, work), limits)) await finishHour(env, msg);
}

/** Records an hour's runs as written; the last hour of an app to finish queues its files. */
async function finishHour(
  env: Env,
  msg: { job: string; project_id: string; app_id: string; date: string; hour: number },
) {
  const db = drizzle(env.DB);
  await db.insert(exportHours).values({ job: msg.job, appId: msg.app_id, hour: msg.hour }).onConflictDoNothing();
  const done = await db
    .select({ n: count() })
    .from(exportHours)
    .where(and(eq(exportHours.job, msg.job), eq(exportHours.appId, msg.app_id)))
    .get();
  // Two last hours finishing together may both queue the files: writing one twice is harmless.
  if (done?.n === 24) {
    const base = { job: msg.job, project_id: msg.project_id, app_id: msg.app_id, date: msg.date };
    await sendAll(
      env,
      EVENT_KINDS.map((kind) => ({ type: "daily_file", ...base, kind })),
    );
  }
}

/** Writes one daily file and its manifest, and records it for the listing. */
export async function writeFile(
  env: Env,
  msg: Extract<ExportMessage, { type: "daily_file" }>,
  options: DailyOptions = {},
): Promise<Manifest & { parts?: number }> {
  const db = drizzle(env.DB);
  const where = and(
    eq(exportFiles.projectId, msg.project_id),
    eq(exportFiles.appId, msg.app_id),
    eq(exportFiles.kind, msg.kind),
    eq(exportFiles.date, msg.date),
  );
  const written = await db.select().from(exportFiles).where(where).get();
  // This run already wrote it (a redelivery): its runs may be gone, so do not write again.
  if (written?.job === msg.job) return written;

  const key = dailyKey(msg.project_id, msg.app_id, msg.kind, msg.date);
  const writer = new ObjectWriter(env.EXPORTS, key, {
    partBytes: options.partBytes,
    httpMetadata: { contentType: "text/csv; charset=utf-8" },
  });
  try {
    await writer.write(csvHeader(COLUMNS[msg.kind]));
    if (msg.kind === "optin_users") await writeOptins(env, msg.project_id, msg.app_id, writer);
    else await concatRuns(env, msg.job, msg.app_id, msg.kind, writer);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const { parts, ...manifest } = await writer.close();
  await env.EXPORTS.put(manifestKey(key), JSON.stringify(manifest), {
    httpMetadata: { contentType: "application/json" },
  });
  const row = { ...manifest, job: msg.job, writtenAt: new Date().toISOString() };
  await db
    .insert(exportFiles)
    .values({ projectId: msg.project_id, appId: msg.app_id, kind: msg.kind, date: msg.date, ...row })
    .onConflictDoUpdate({
      target: [exportFiles.projectId, exportFiles.appId, exportFiles.kind, exportFiles.date],
      set: row,
    });
  if (msg.kind !== "optin_users") {
    const kind = msg.kind;
    const runs = Array.from({ length: 24 }, (_, hour) => runKey(msg.job, msg.app_id, kind, hour));
    await env.EXPORTS.delete([...runs, ...runs.map(runRowsKey)]);
  }
  return { ...manifest, parts };
}

async function concatRuns(env: Env, job: string, appId: string, kind: EventKind, writer: ObjectWriter) {
  for (let hour = 0; hour < 24; hour++) {
    const key = runKey(job, appId, kind, hour);
    const run = await env.EXPORTS.get(key);
    if (!run) throw new Error(`run ${hour} of ${job}/${appId}/${kind} is missing`);
    const rows = run.customMetadata?.rows ?? (await (await env.EXPORTS.get(runRowsKey(key)))?.text());
    writer.rows += Number(rows ?? 0);
    const reader = run.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await writer.writeBytes(value);
    }
  }
}

interface OptinRow {
  custom_id: string | null;
  installation_id: string;
  platform: string | null;
  push_optin: number | null;
  last_seen_at: string;
}

/** One row per reachable installation (on a live profile), by last update then installation. */
async function writeOptins(env: Env, projectId: string, appId: string, writer: ObjectWriter) {
  let after: { time: string; id: string } | null = null;
  const projection = await projectionFor(env, projectId);
  for (;;) {
    const cursor: { time: string; id: string } | null = after;
    // Each shard's next slice after the same cursor, merged in the file's order.
    const results: OptinRow[] = await mergeAcross<OptinRow>(
      projection,
      ROWS_PER_SLICE,
      async (shard, limit): Promise<OptinRow[]> =>
        (
          await shard.d1
            .prepare(
              `SELECT i.custom_id, i.installation_id, i.platform, i.push_optin, i.last_seen_at
         FROM installations i
         JOIN profiles p ON p.project_id = i.project_id AND p.profile_id = i.profile_id AND p.state = 'active'
        WHERE i.project_id = ?1 AND i.app_id = ?2 AND (i.last_seen_at, i.installation_id) > (?3, ?4)
        ORDER BY i.last_seen_at, i.installation_id LIMIT ${limit}`,
            )
            .bind(projectId, appId, cursor?.time ?? "", cursor?.id ?? "")
            .all<OptinRow>()
        ).results,
      (a, b) => byText(a.last_seen_at, b.last_seen_at) || byText(a.installation_id, b.installation_id),
    );
    const page = { results };
    const rows: Cell[][] = page.results.map((r) => [
      r.custom_id,
      r.installation_id,
      r.platform,
      r.push_optin === null ? null : r.push_optin === 1,
      r.last_seen_at,
    ]);
    await writer.write(csvRows(rows), rows.length);
    const last = page.results.at(-1);
    if (!last || page.results.length < ROWS_PER_SLICE) return;
    after = { time: last.last_seen_at, id: last.installation_id };
  }
}

export type { DailyKind };
