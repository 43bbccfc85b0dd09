import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { erasureSteps, installations, profiles, projects, purgeJobs, purgePages, purgeResults } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { eraseD1 } from "../privacy/erase-d1";
import {
  eraseStaged,
  type Holder,
  installationStub,
  removeProfile,
  type StagedBudget,
  stagedBudget,
} from "../privacy/remove";

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

/** A profile D1 nominated, and where it is held. */
type Candidate = { profileId: string; customId: string | null; holderKind: string | null; holderId: string | null };

export type PurgeMessage =
  | { type: "purge_projects"; job_id: string; cursor: string | null }
  | {
      type: "purge_profiles";
      job_id: string;
      project_id: string;
      kind: "inactive" | "orphan";
      /** The last profile finished: the page nominates profiles after it. */
      cursor: string | null;
      /**
       * A profile whose staged events were still being deleted when the last message ran out
       * of its allowance (D1 no longer nominates it: its tombstone is written). `part` numbers
       * the messages of its removal.
       */
      resume?: { row: Candidate; part: number };
    };

type Job = typeof purgeJobs.$inferSelect;

function pageKey(m: PurgeMessage): string {
  if (m.type === "purge_projects") return `projects:${m.cursor ?? ""}`;
  const key = `${m.project_id}:${m.kind}:${m.cursor ?? ""}`;
  return m.resume ? `${key}#${m.resume.part}` : key;
}

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

/**
 * The ID under which a removal's steps are recorded in `erasure_steps`: one per job, kind and
 * profile, so a page retried after it wrote a tombstone can find the removals it left unfinished.
 */
const stepsPrefix = (jobId: string, kind: "inactive" | "orphan") =>
  kind === "inactive" ? `purge:${jobId}:` : `purge-orphan:${jobId}:`;

/** A removal whose staged events are not all deleted yet: the next message resumes it. */
const IN_PROGRESS = "in_progress" as const;

async function purgeInactive(
  env: Env,
  job: Job,
  projectId: string,
  row: Candidate,
  cutoff: string,
  budget: StagedBudget,
): Promise<Result | typeof IN_PROGRESS> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "inactive" as const };
  const holder = await holderOf(env, projectId, row);
  if (!holder) return { ...base, outcome: "spared", detail: { reason: "not_held" } };
  const request = {
    requestId: `${stepsPrefix(job.id, "inactive")}${row.profileId}`,
    at: new Date().toISOString(),
    profileId: row.profileId,
    inactiveBefore: cutoff,
    dryRun: job.dryRun,
  };
  // Every step is idempotent by the request ID: a resumed removal carries on from its records.
  const result = await removeProfile(env, projectId, holder, request, budget);
  if (result.removed === "in_progress") return IN_PROGRESS;
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
  budget: StagedBudget,
): Promise<Result | typeof IN_PROGRESS> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "orphan" as const };
  if (row.holderKind !== "installation" || !row.holderId) {
    return { ...base, outcome: "spared", detail: { reason: "holder_unknown" } };
  }
  // The object keeps its first answer for this job and profile, so a resumed orphan gets it again.
  const outcome = await installationStub(env, projectId, row.holderId).eraseOrphan({
    requestId: `purge:${job.id}`,
    at: new Date().toISOString(),
    profileId: row.profileId,
    orphanedBefore,
    dryRun: job.dryRun,
  });
  if (!outcome.erased) return { ...base, outcome: "spared", detail: { reason: outcome.reason } };
  if (job.dryRun) return { ...base, outcome: "would_remove", detail: { ...outcome } };
  const requestId = `${stepsPrefix(job.id, "orphan")}${row.profileId}`;
  const d1Step = { step: "d1", where: "d1", at: outcome.at, rows: {} };
  // The step's record commits with the tombstone: a retried page finds the removal by it.
  await eraseD1(env, { projectId, profileIds: [row.profileId], installationIds: [], customId: null }, outcome.at, [
    drizzle(env.DB)
      .insert(erasureSteps)
      .values({ requestId, step: "d1", detail: d1Step, at: outcome.at })
      .onConflictDoNothing(),
  ]);
  // Its event history in R2 goes too, paged as a remove's is (the tombstone above keeps late events out).
  const staged = await eraseStaged(env, projectId, [row.profileId], requestId, outcome.at, budget);
  if (!staged.done) return IN_PROGRESS;
  return { ...base, outcome: "removed", detail: { ...outcome, staged: { events: staged.events } } };
}

/**
 * Removals of this job, kind and project after `cursor` whose tombstone is written (their `d1`
 * step is recorded with it) and whose staged events are not all deleted. D1 no longer nominates
 * them, so a page that failed between a tombstone and queuing its resume finds them here on
 * its retry. Read on redelivery only: it walks the job's removals after the cursor.
 */
async function unfinished(
  env: Env,
  m: Extract<PurgeMessage, { type: "purge_profiles" }>,
  cursor: string | null,
): Promise<Candidate[]> {
  const prefix = stepsPrefix(m.job_id, m.kind);
  const { results } = await env.DB.prepare(
    `SELECT p.profile_id AS profileId, p.custom_id AS customId, p.holder_kind AS holderKind, p.holder_id AS holderId
       FROM erasure_steps d
       JOIN profiles p ON p.project_id = ?1 AND p.profile_id = substr(d.request_id, ?2)
       LEFT JOIN erasure_steps r ON r.request_id = d.request_id AND r.step = 'r2'
      WHERE d.step = 'd1' AND d.request_id > ?3 AND d.request_id < ?4 AND p.state = 'removed'
        AND (r.request_id IS NULL OR json_extract(r.detail, '$.next') IS NOT NULL)
      ORDER BY d.request_id LIMIT ?5`,
  )
    .bind(m.project_id, prefix.length + 1, `${prefix}${cursor ?? ""}`, `${prefix.slice(0, -1)};`, PROFILES_PER_PAGE)
    .all<Candidate>();
  return results;
}

async function profilesPage(
  env: Env,
  m: Extract<PurgeMessage, { type: "purge_profiles" }>,
  redelivered: boolean,
): Promise<void> {
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
  // One allowance of staged objects for the whole message, whatever the number of profiles.
  const budget = stagedBudget();
  const purgeOne = (row: Candidate) =>
    m.kind === "inactive"
      ? purgeInactive(env, job, m.project_id, row, cutoff, budget)
      : purgeOrphan(env, job, m.project_id, row, cutoff, budget);
  const results: Result[] = [];
  const finish = async (next: PurgeMessage[]) => {
    const [first, ...rest] = results.map((r) => db.insert(purgeResults).values(r).onConflictDoNothing());
    if (first) await db.batch([first, ...rest]);
    await handOn(env, m, next);
  };
  const page = { type: m.type, job_id: m.job_id, project_id: m.project_id, kind: m.kind };

  if (m.resume) {
    const result = await purgeOne(m.resume.row);
    if (result === IN_PROGRESS) return finish([{ ...m, resume: { row: m.resume.row, part: m.resume.part + 1 } }]);
    results.push(result);
  }
  const nominated = await db
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
  const rows = redelivered
    ? [...nominated, ...(await unfinished(env, m, m.cursor))]
        .sort((a, b) => (a.profileId < b.profileId ? -1 : 1))
        .slice(0, PROFILES_PER_PAGE)
    : nominated;
  let cursor = m.cursor;
  for (const row of rows) {
    // The allowance is spent: the rest of the page goes on in a new message.
    if (budget.objects <= 0) return finish([{ ...page, cursor }]);
    const result = await purgeOne(row);
    if (result === IN_PROGRESS) return finish([{ ...page, cursor: row.profileId, resume: { row, part: 1 } }]);
    results.push(result);
    cursor = row.profileId;
  }
  await finish(rows.length === PROFILES_PER_PAGE && cursor ? [{ ...page, cursor }] : []);
}

/** Runs one page of a purge. Safe to run again: each removal is idempotent by job and profile. */
export async function runPurgePage(env: Env, m: PurgeMessage, redelivered = false): Promise<void> {
  if (m.type === "purge_projects") return projectsPage(env, m);
  return profilesPage(env, m, redelivered);
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
