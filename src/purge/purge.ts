import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { installations, profiles, projects, purgeJobs, purgePages, purgeResults } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { eraseD1 } from "../privacy/erase-d1";
import { type Holder, installationStub, removeProfile } from "../privacy/remove";

/*
 * The inactive-profile purge (SPEC §6). The cron, or the admin job, only records a job and
 * queues its first page; each page is one bounded message on the privacy queue: a page of
 * projects fans out one page per project, a page of a project's profiles removes at most
 * PROFILES_PER_PAGE of them and queues the next page. D1 only nominates: the object holding each
 * profile re-checks its own last activity (or orphaning time) before anything is deleted.
 */

export const PROJECTS_PER_PAGE = 50;
export const PROFILES_PER_PAGE = 25;
export const ORPHAN_GRACE_DAYS = 7;
const DAY_MS = 86_400_000;

export type PurgeMessage =
  | { type: "purge_projects"; job_id: string; cursor: string | null }
  | {
      type: "purge_profiles";
      job_id: string;
      project_id: string;
      kind: "inactive" | "orphan";
      cursor: string | null;
    };

type Job = typeof purgeJobs.$inferSelect;

const pageKey = (m: PurgeMessage) =>
  m.type === "purge_projects" ? `projects:${m.cursor ?? ""}` : `${m.project_id}:${m.kind}:${m.cursor ?? ""}`;

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
  await env.PRIVACY.send(first);
  return id;
}

/**
 * Queues the pages `m` leads to, then records them and marks `m` done in one transaction. A
 * page that runs before its parent recorded it creates its own row as done, and the parent's
 * insert leaves that row alone.
 */
async function handOn(env: Env, m: PurgeMessage, next: PurgeMessage[]): Promise<void> {
  if (next.length) await env.PRIVACY.sendBatch(next.map((body) => ({ body })));
  const db = drizzle(env.DB);
  const self = db
    .insert(purgePages)
    .values({ jobId: m.job_id, page: pageKey(m), done: 1 })
    .onConflictDoUpdate({ target: [purgePages.jobId, purgePages.page], set: { done: 1 } });
  const children = next.map((n) =>
    db
      .insert(purgePages)
      .values({ jobId: n.job_id, page: pageKey(n) })
      .onConflictDoNothing(),
  );
  await db.batch([self, ...children]);
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

/** Where a nominated profile lives: the row's holder, else what its identifiers say. */
async function holderOf(
  env: Env,
  projectId: string,
  row: { profileId: string; customId: string | null; holderKind: string | null; holderId: string | null },
): Promise<Holder | null> {
  if (row.holderKind === "custom_id" && row.holderId) return { kind: "custom_id", customId: row.holderId };
  if (row.holderKind === "installation" && row.holderId) return { kind: "installation", installationId: row.holderId };
  if (row.customId) return { kind: "custom_id", customId: row.customId };
  const installation = await drizzle(env.DB)
    .select({ id: installations.installationId })
    .from(installations)
    .where(and(eq(installations.projectId, projectId), eq(installations.profileId, row.profileId)))
    .get();
  return installation ? { kind: "installation", installationId: installation.id } : null;
}

type Result = typeof purgeResults.$inferInsert;

async function purgeInactive(env: Env, job: Job, projectId: string, row: Candidate, cutoff: string): Promise<Result> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "inactive" as const };
  const holder = await holderOf(env, projectId, row);
  if (!holder) return { ...base, outcome: "spared", detail: { reason: "not_held" } };
  const request = {
    requestId: `purge:${job.id}:${row.profileId}`,
    at: new Date().toISOString(),
    profileId: row.profileId,
    inactiveBefore: cutoff,
    dryRun: job.dryRun,
  };
  let result = await removeProfile(env, projectId, holder, request);
  // Staged events go in bounded pages; each resume picks up from the recorded progress.
  while (result.removed === "in_progress") result = await removeProfile(env, projectId, holder, request);
  if (!result.removed) return { ...base, outcome: "spared", detail: { reason: result.reason } };
  return {
    ...base,
    outcome: job.dryRun ? "would_remove" : "removed",
    detail: { ...result.receipt },
  };
}

async function purgeOrphan(
  env: Env,
  job: Job,
  projectId: string,
  row: Candidate,
  orphanedBefore: string,
): Promise<Result> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "orphan" as const };
  if (row.holderKind !== "installation" || !row.holderId) {
    return { ...base, outcome: "spared", detail: { reason: "holder_unknown" } };
  }
  const at = new Date().toISOString();
  const outcome = await installationStub(env, projectId, row.holderId).eraseOrphan({
    requestId: `purge:${job.id}`,
    at,
    profileId: row.profileId,
    orphanedBefore,
    dryRun: job.dryRun,
  });
  if (!outcome.erased) return { ...base, outcome: "spared", detail: { reason: outcome.reason } };
  if (!job.dryRun) {
    await eraseD1(env, { projectId, profileIds: [row.profileId], installationIds: [], customId: null }, at);
  }
  return { ...base, outcome: job.dryRun ? "would_remove" : "removed", detail: { ...outcome } };
}

type Candidate = { profileId: string; customId: string | null; holderKind: string | null; holderId: string | null };

async function profilesPage(env: Env, m: Extract<PurgeMessage, { type: "purge_profiles" }>): Promise<void> {
  const db = drizzle(env.DB);
  const [job, project] = await Promise.all([
    db.select().from(purgeJobs).where(eq(purgeJobs.id, m.job_id)).get(),
    db.select({ days: projects.inactivityDays }).from(projects).where(eq(projects.id, m.project_id)).get(),
  ]);
  if (!job || !project) return handOn(env, m, []);
  const asOf = Date.parse(job.asOf);
  // Orphans are nominated by their last activity, which is never later than their orphaning;
  // the object checks the orphaning time itself.
  const cutoff = new Date(asOf - (m.kind === "inactive" ? project.days : ORPHAN_GRACE_DAYS) * DAY_MS).toISOString();
  const rows = await db
    .select({
      profileId: profiles.profileId,
      customId: profiles.customId,
      holderKind: profiles.holderKind,
      holderId: profiles.holderId,
    })
    .from(profiles)
    .where(
      and(
        eq(profiles.projectId, m.project_id),
        eq(profiles.state, m.kind === "inactive" ? "active" : "orphaned"),
        lt(profiles.lastActivityAt, cutoff),
        m.cursor ? gt(profiles.profileId, m.cursor) : undefined,
      ),
    )
    .orderBy(asc(profiles.profileId))
    .limit(PROFILES_PER_PAGE);
  const results: Result[] = [];
  for (const row of rows) {
    results.push(
      m.kind === "inactive"
        ? await purgeInactive(env, job, m.project_id, row, cutoff)
        : await purgeOrphan(env, job, m.project_id, row, cutoff),
    );
  }
  {
    const [first, ...rest] = results.map((r) => db.insert(purgeResults).values(r).onConflictDoNothing());
    if (first) await db.batch([first, ...rest]);
  }
  const last = rows.at(-1);
  const next: PurgeMessage[] = rows.length === PROFILES_PER_PAGE && last ? [{ ...m, cursor: last.profileId }] : [];
  await handOn(env, m, next);
}

/** Runs one page of a purge. Safe to run again: each removal is idempotent by job and profile. */
export async function runPurgePage(env: Env, m: PurgeMessage): Promise<void> {
  if (m.type === "purge_projects") return projectsPage(env, m);
  return profilesPage(env, m);
}

/** A job's state and what it did (the first 1,000 results, by profile). */
export async function purgeStatus(env: Env, jobId: string) {
  const db = drizzle(env.DB);
  const job = await db.select().from(purgeJobs).where(eq(purgeJobs.id, jobId)).get();
  if (!job) return null;
  const [pending, counts, results] = await db.batch([
    db
      .select({ n: sql<number>`count(*)` })
      .from(purgePages)
      .where(and(eq(purgePages.jobId, jobId), eq(purgePages.done, 0))),
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
  return {
    job: "purge" as const,
    request_id: job.id,
    as_of: job.asOf,
    dry_run: job.dryRun,
    origin: job.origin,
    status: (pending[0]?.n ?? 0) > 0 ? ("pending" as const) : ("done" as const),
    created_at: job.createdAt,
    totals,
    results,
  };
}
