import { asc, eq, gt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { projects, purgeJobs, purgePages, purgeResults } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import {
  type Candidate,
  handOn,
  PAGE_FAILED,
  PROJECTS_PER_PAGE,
  type ProfilesMessage,
  type PurgeMessage,
  pageKey,
  purgePaging,
} from "./pages";
import { firstOf, nominate, profilesPage, unfinished } from "./removals";

export type { PurgeMessage } from "./pages";

/*
 * The inactive-profile purge (SPEC §6). The cron, or the admin job, only records a job and
 * queues its first page; each page is one bounded message on the privacy queue. A page of
 * projects fans out two lead pages per project (inactive profiles, orphans). A lead page reads
 * the IDs of the next `pagesPerLead` × `profiles` nominated profiles (`purgePaging`), queues a
 * page per `profiles` of them (a range of IDs; consumers run them side by side) and the next lead.
 * D1 only nominates: the object holding each profile re-checks its own last activity (or
 * orphaning time) before anything is deleted.
 */

export const ORPHAN_GRACE_DAYS = 7;
const DAY_MS = 86_400_000;

/** Records a purge as of `asOf` and queues its first page; returns the job's ID. */
export async function startPurge(
  env: Env,
  options: { asOf: Date; dryRun: boolean; origin: "cron" | "admin" },
): Promise<string> {
  const id = uuidv7();
  const first: PurgeMessage = { type: "purge_projects", job_id: id, cursor: null };
  const db = drizzle(env.DB);
  await db.batch([
    db.insert(purgeJobs).values({
      id,
      asOf: options.asOf.toISOString(),
      dryRun: options.dryRun,
      origin: options.origin,
      createdAt: new Date().toISOString(),
    }),
    db.insert(purgePages).values({ jobId: id, page: pageKey(first) }),
  ]);
  await env.PURGE.send(first);
  return id;
}

async function projectsPage(env: Env, m: Extract<PurgeMessage, { type: "purge_projects" }>): Promise<void> {
  const rows = await drizzle(env.DB)
    .select({ id: projects.id })
    .from(projects)
    .where(m.cursor ? gt(projects.id, m.cursor) : undefined)
    .orderBy(asc(projects.id))
    .limit(PROJECTS_PER_PAGE);
  const next: PurgeMessage[] = rows.flatMap((p) => [
    { type: "purge_profiles", job_id: m.job_id, project_id: p.id, kind: "inactive", cursor: null },
    { type: "purge_profiles", job_id: m.job_id, project_id: p.id, kind: "orphan", cursor: null },
  ]);
  const last = rows.at(-1);
  if (rows.length === PROJECTS_PER_PAGE && last)
    next.push({ type: "purge_projects", job_id: m.job_id, cursor: last.id });
  await handOn(env, m, next);
}

/**
 * A project's lead page: splits the next nominated profiles into ranges of a page each and
 * queues them with the next lead. It reads IDs only and removes nothing, so it stays cheap
 * however far ahead of the removals it runs. Delivered again, it also takes in this job's
 * removals after its cursor left unfinished, so a range page finds them.
 */
async function leadPage(env: Env, m: ProfilesMessage, cutoff: string, redelivered: boolean): Promise<void> {
  const span = purgePaging.pagesPerLead * purgePaging.profiles;
  const nominated = await nominate(env, m, cutoff, m.cursor, null, span);
  const ids: Candidate[] = redelivered
    ? firstOf([...nominated, ...(await unfinished(env, m, m.cursor, null, span))], span)
    : nominated;
  const page = { type: m.type, job_id: m.job_id, project_id: m.project_id, kind: m.kind };
  const next: PurgeMessage[] = [];
  let cursor = m.cursor;
  for (let k = 0; k < ids.length; k += purgePaging.profiles) {
    const through = ids[Math.min(k + purgePaging.profiles, ids.length) - 1]?.profileId as string;
    next.push({ ...page, cursor, through });
    cursor = through;
  }
  if (ids.length === span) next.push({ ...page, cursor });
  await handOn(env, m, next);
}

/** Runs one page of a purge. Safe to run again: each removal is idempotent by job and profile. */
export async function runPurgePage(env: Env, m: PurgeMessage, redelivered = false): Promise<void> {
  if (m.type === "purge_projects") return projectsPage(env, m);
  const db = drizzle(env.DB);
  const [job, project] = await Promise.all([
    db.select().from(purgeJobs).where(eq(purgeJobs.id, m.job_id)).get(),
    db.select({ days: projects.inactivityDays }).from(projects).where(eq(projects.id, m.project_id)).get(),
  ]);
  if (!job || !project) return handOn(env, m, []);
  // Orphans are nominated by their last activity, which is never later than their orphaning;
  // the object checks the orphaning time itself.
  const days = m.kind === "inactive" ? project.days : ORPHAN_GRACE_DAYS;
  const cutoff = new Date(Date.parse(job.asOf) - days * DAY_MS).toISOString();
  if (m.through === undefined && !m.resume) return leadPage(env, m, cutoff, redelivered);
  return profilesPage(env, m, job, cutoff);
}

/** A job's state and what it did (the first 1,000 results, by profile). */
export async function purgeStatus(env: Env, jobId: string) {
  const db = drizzle(env.DB);
  const job = await db.select().from(purgeJobs).where(eq(purgeJobs.id, jobId)).get();
  if (!job) return null;
  const [pages, counts, results] = await db.batch([
    db
      .select({ done: purgePages.done, n: sql<number>`count(*)` })
      .from(purgePages)
      .where(eq(purgePages.jobId, jobId))
      .groupBy(purgePages.done),
    db
      .select({ kind: purgeResults.kind, outcome: purgeResults.outcome, n: sql<number>`count(*)` })
      .from(purgeResults)
      .where(eq(purgeResults.jobId, jobId))
      .groupBy(purgeResults.kind, purgeResults.outcome),
    db
      .select({
        project_id: purgeResults.projectId,
        profile_id: purgeResults.profileId,
        kind: purgeResults.kind,
        outcome: purgeResults.outcome,
        detail: purgeResults.detail,
      })
      .from(purgeResults)
      .where(eq(purgeResults.jobId, jobId))
      .orderBy(asc(purgeResults.profileId))
      .limit(1000),
  ]);
  const totals: Record<"inactive" | "orphan", Record<string, number>> = { inactive: {}, orphan: {} };
  for (const c of counts) totals[c.kind][c.outcome] = c.n;
  const pending = pages.find((p) => p.done === 0)?.n ?? 0;
  const failed = pages.find((p) => p.done === PAGE_FAILED)?.n ?? 0;
  return {
    job: "purge" as const,
    request_id: job.id,
    as_of: job.asOf,
    dry_run: job.dryRun,
    origin: job.origin,
    // Pending while any page is; then failed if a page failed every retry (it is a dead letter).
    status: pending > 0 ? ("pending" as const) : failed > 0 ? ("failed" as const) : ("done" as const),
    ...(pending === 0 && failed > 0
      ? { error: `${failed} page(s) failed every retry; see GET /v1/admin/dead-letters.` }
      : {}),
    created_at: job.createdAt,
    totals,
    results,
  };
}
