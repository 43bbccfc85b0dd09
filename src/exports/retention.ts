import { ApiError } from "../lib/errors";
import { COPY_DAYS } from "../privacy/copies";
import { dailyKey, manifestKey } from "./files";
import { profilesExportKey } from "./profiles-export";

/*
 * The bounded life of export copies (SPEC §5 Privacy: copies count). The API answers 410 GONE
 * once a copy is past its life; the daily cron deletes it. A remove cannot reach these copies
 * (a CSV mixes many profiles), so what its receipt promises is kept here: on-demand profile
 * exports, review archives and half-built `exports-work/` runs go 7 days after they were made
 * (the R2 lifecycle rules of r2-lifecycle.json are a backstop), daily files
 * `export_retention_days` after their day. Each sweep reads a bounded page at a time, and an
 * invocation a bounded number of pages; what is left goes on in a queued message.
 */

const DAY_MS = 86_400_000;

/** How much one invocation deletes: `pages` pages of `rows` (tests make it small). */
export const retentionPaging = { rows: 100, pages: 5 };

/** True when an on-demand profile export made at `createdAt` is past its life at `now`. */
export function profileExportExpired(createdAt: string, now: number): boolean {
  return Date.parse(createdAt) + COPY_DAYS * DAY_MS <= now;
}

/**
 * Throws 410 GONE when the on-demand export `requestId` is past its life or was deleted; an
 * unknown one falls through to the object's own 404.
 */
export async function refuseExpiredProfileExport(env: Env, projectId: string, requestId: string, now: number) {
  const row = await env.DB.prepare(
    `SELECT created_at, result->>'$.deleted_at' AS deleted_at FROM requests
     WHERE id = ?1 AND project_id = ?2 AND kind = 'profiles_export'`,
  )
    .bind(requestId, projectId)
    .first<{ created_at: string; deleted_at: string | null }>();
  if (row && (row.deleted_at !== null || profileExportExpired(row.created_at, now))) {
    throw new ApiError("GONE", `An on-demand export is kept ${COPY_DAYS} days; this one has expired.`);
  }
}

/** True when the daily file of `date` is past a retention of `days` at `now`. */
export function dailyFileExpired(date: string, days: number, now: number): boolean {
  const day = Date.parse(`${date}T00:00:00.000Z`);
  return Number.isFinite(day) && day + (days + 1) * DAY_MS <= now;
}

/** One page of expired daily files deleted (objects and rows); how many. */
async function dailyPage(env: Env, now: Date): Promise<number> {
  // Expired once its day plus the retention and one day is today or earlier. Project by project
  // (CROSS JOIN keeps that order), so each reads only its expired files through (project, date).
  const { results } = await env.DB.prepare(
    `SELECT f.project_id, f.app_id, f.kind, f.date FROM projects p CROSS JOIN export_files f
     WHERE f.project_id = p.id AND f.date <= date(?1, '-' || (p.export_retention_days + 1) || ' days') LIMIT ?2`,
  )
    .bind(now.toISOString().slice(0, 10), retentionPaging.rows)
    .all<{ project_id: string; app_id: string; kind: string; date: string }>();
  if (results.length === 0) return 0;
  const keys = results.flatMap((r) => {
    const key = dailyKey(r.project_id, r.app_id, r.kind as Parameters<typeof dailyKey>[2], r.date);
    return [key, manifestKey(key)];
  });
  await env.EXPORTS.delete(keys);
  // The rows go after their objects: a failure in between leaves rows the next run finds again.
  await env.DB.prepare(
    `DELETE FROM export_files WHERE (project_id, app_id, kind, date) IN
       (SELECT value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]' FROM json_each(?1))`,
  )
    .bind(JSON.stringify(results.map((r) => [r.project_id, r.app_id, r.kind, r.date])))
    .run();
  return results.length;
}

/**
 * The retention run's scans (`?1` the cutoff, `?2` the page size), each answered by a partial
 * index of what is still to delete (migration `retention_scans`): the tables keep every
 * request, and a scan of them all would grow with every mass update and review.
 */
export const RETENTION_SCANS = {
  profileExports: `SELECT id, project_id FROM requests WHERE kind = 'profiles_export' AND created_at <= ?1
       AND result IS NOT NULL AND result->>'$.deleted_at' IS NULL LIMIT ?2`,
  reviewArchives: `SELECT id, archive_key FROM privacy_requests WHERE type = 'review' AND archive_key IS NOT NULL
       AND archive_deleted_at IS NULL AND completed_at <= ?1 LIMIT ?2`,
};

/** One page of expired on-demand profile exports deleted; how many. */
async function profileExportsPage(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - COPY_DAYS * DAY_MS).toISOString();
  const { results } = await env.DB.prepare(RETENTION_SCANS.profileExports)
    .bind(cutoff, retentionPaging.rows)
    .all<{ id: string; project_id: string }>();
  if (results.length === 0) return 0;
  await env.EXPORTS.delete(results.map((r) => profilesExportKey(r.project_id, r.id)));
  // Marked, so the next page and the next run pass it by.
  await env.DB.prepare(
    `UPDATE requests SET result = json_set(result, '$.deleted_at', ?1)
       WHERE id IN (SELECT value FROM json_each(?2))`,
  )
    .bind(now.toISOString(), JSON.stringify(results.map((r) => r.id)))
    .run();
  return results.length;
}

/** One page of review archives past their 7 days deleted; how many. */
async function reviewArchivesPage(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - COPY_DAYS * DAY_MS).toISOString();
  const { results } = await env.DB.prepare(RETENTION_SCANS.reviewArchives)
    .bind(cutoff, retentionPaging.rows)
    .all<{ id: string; archive_key: string }>();
  if (results.length === 0) return 0;
  await env.EXPORTS.delete(results.map((r) => r.archive_key));
  await env.DB.prepare(
    "UPDATE privacy_requests SET archive_deleted_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
  )
    .bind(now.toISOString(), JSON.stringify(results.map((r) => r.id)))
    .run();
  return results.length;
}

/**
 * One page of `exports-work/` listed from `after`: objects older than 7 days deleted (a run
 * that finished deleted its own; these are what failed runs left). The next key to list
 * after, or null at the end.
 */
async function workPage(env: Env, now: Date, after: string | null): Promise<string | null> {
  const page = await env.EXPORTS.list({
    prefix: "exports-work/",
    limit: retentionPaging.rows,
    ...(after ? { startAfter: after } : {}),
  });
  const old = page.objects.filter((o) => o.uploaded.getTime() + COPY_DAYS * DAY_MS <= now.getTime());
  if (old.length) await env.EXPORTS.delete(old.map((o) => o.key));
  return page.truncated ? (page.objects.at(-1)?.key ?? null) : null;
}

/** Where a retention run goes on: the `exports-work/` key it listed up to. */
export interface RetentionProgress {
  work_after: string | null;
}

/**
 * Deletes expired copies within one invocation's pages: daily files, then on-demand profile
 * exports, review archives, and old `exports-work/` objects. Returns where to go on (queue it), or
 * null when nothing expired is left.
 */
export async function expireCopies(
  env: Env,
  now: Date,
  from: RetentionProgress = { work_after: null },
): Promise<RetentionProgress | null> {
  // A page counts when it deleted something: a query finding nothing ends its sweep.
  let pages = retentionPaging.pages;
  for (const sweep of [dailyPage, profileExportsPage, reviewArchivesPage]) {
    while (pages > 0) {
      const n = await sweep(env, now);
      if (n > 0) pages--;
      if (n < retentionPaging.rows) break;
    }
  }
  let after = from.work_after;
  while (pages > 0) {
    pages--;
    after = await workPage(env, now, after);
    if (after === null) return null;
  }
  return { work_after: after };
}

/**
 * The daily cron's retention run (and each continuation): a bounded share of the deletes, the
 * rest queued as the next message.
 */
export async function expireExportCopies(
  env: Env,
  now: Date,
  from: RetentionProgress = { work_after: null },
): Promise<RetentionProgress | null> {
  const next = await expireCopies(env, now, from);
  if (next)
    await env.EXPORT_TASKS.send({ type: "expire_copies", at: now.toISOString(), ...next }, { contentType: "json" });
  return next;
}
