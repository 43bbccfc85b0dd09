import { and, asc, eq, gt, lt, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { byText, pageByProfile, readByProfile } from "../db/fan-out";
import { erasureSteps, installations, profiles, type purgeJobs, purgeResults } from "../db/schema";
import { projectionFor } from "../db/shards";
import { installationStub } from "../identity/identifiers";
import { mapBounded } from "../lib/concurrency";
import { eraseD1 } from "../privacy/erase-d1";
import { eraseProfile, finishRemovals, type Holder, type Receipt, type Tombstoned } from "../privacy/remove";
import { eraseStaged, type StagedErasure, stagedBudget } from "../privacy/staged-erasure";
import { type Candidate, handOn, type ProfilesMessage, type PurgeMessage, purgePaging } from "./pages";

/*
 * A page of a project's profiles (a range of their IDs): at most `purgePaging.profiles`
 * removals, `purgePaging.inFlight` at a time, each up to its tombstone; then one sweep of the project's staged events for all of them
 * (one listing, each object read once for the page), within one message's allowance; then
 * their receipts. Removals whose staged events outlast the allowance go on in the next message.
 */

type Job = typeof purgeJobs.$inferSelect;
type Result = typeof purgeResults.$inferInsert;

/** Where a nominated profile lives: the row's holder, else what its identifiers say. */
async function holderOf(env: Env, projectId: string, row: Candidate): Promise<Holder | null> {
  if (row.holderKind === "custom_id" && row.holderId) return { kind: "custom_id", customId: row.holderId };
  if (row.holderKind === "installation" && row.holderId) return { kind: "installation", installationId: row.holderId };
  if (row.customId) return { kind: "custom_id", customId: row.customId };
  const installation = await (await projectionFor(env, projectId))
    .forProfile(row.profileId)
    .db.select({ id: installations.installationId })
    .from(installations)
    .where(and(eq(installations.projectId, projectId), eq(installations.profileId, row.profileId)))
    .get();
  return installation ? { kind: "installation", installationId: installation.id } : null;
}

/**
 * The ID under which a removal's steps are recorded in `erasure_steps`: one per job, kind and
 * profile, so a page retried after it wrote a tombstone can find the removals it left unfinished.
 */
/** The columns a purge candidate is read with (`Candidate`). */
const candidateColumns = {
  profileId: profiles.profileId,
  customId: profiles.customId,
  holderKind: profiles.holderKind,
  holderId: profiles.holderId,
};

const stepsPrefix = (jobId: string, kind: "inactive" | "orphan") =>
  kind === "inactive" ? `purge:${jobId}:` : `purge-orphan:${jobId}:`;

/**
 * A removal up to its tombstone: its result, or its staged events to delete, the removal to
 * finish (receipt and webhook) once they are gone, and its result then.
 */
type Erased =
  | { result: Result }
  /** A removal whose installations go on in the next message. */
  | { again: Candidate }
  | {
      row: Candidate;
      erasure: StagedErasure;
      finish?: { req: { requestId: string; at: string }; t: Tombstoned };
      complete: (events: number, receipt?: Receipt) => Result;
    };

async function eraseInactive(env: Env, job: Job, projectId: string, row: Candidate, cutoff: string): Promise<Erased> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "inactive" as const };
  const holder = await holderOf(env, projectId, row);
  if (!holder) return { result: { ...base, outcome: "spared", detail: { reason: "not_held" } } };
  const request = {
    requestId: `${stepsPrefix(job.id, "inactive")}${row.profileId}`,
    at: new Date().toISOString(),
    profileId: row.profileId,
    inactiveBefore: cutoff,
    dryRun: job.dryRun,
  };
  // Every step is idempotent by the request ID: a resumed removal carries on from its records.
  const erased = await eraseProfile(env, projectId, holder, request);
  if ("tombstoned" in erased) {
    return {
      row,
      erasure: { requestId: request.requestId, profileIds: erased.profileIds, at: request.at },
      finish: { req: request, t: erased },
      complete: (_events, receipt) => ({ ...base, outcome: "removed", detail: { ...receipt } }),
    };
  }
  if (!erased.removed) return { result: { ...base, outcome: "spared", detail: { reason: erased.reason } } };
  if (erased.removed === "in_progress") return { again: row };
  return { result: { ...base, outcome: "would_remove", detail: { ...erased.receipt } } };
}

async function eraseOrphan(
  env: Env,
  job: Job,
  projectId: string,
  row: Candidate,
  orphanedBefore: string,
): Promise<Erased> {
  const base = { jobId: job.id, projectId, profileId: row.profileId, kind: "orphan" as const };
  if (row.holderKind !== "installation" || !row.holderId) {
    return { result: { ...base, outcome: "spared", detail: { reason: "holder_unknown" } } };
  }
  // The object keeps its first answer for this job and profile, so a resumed orphan gets it again.
  const outcome = await installationStub(env, projectId, row.holderId).eraseOrphan({
    requestId: `purge:${job.id}`,
    at: new Date().toISOString(),
    profileId: row.profileId,
    orphanedBefore,
    dryRun: job.dryRun,
  });
  if (!outcome.erased) return { result: { ...base, outcome: "spared", detail: { reason: outcome.reason } } };
  if (job.dryRun) return { result: { ...base, outcome: "would_remove", detail: { ...outcome } } };
  const requestId = `${stepsPrefix(job.id, "orphan")}${row.profileId}`;
  const d1Step = { step: "d1", where: "d1", at: outcome.at, rows: {} };
  // The step's record commits before the tombstone: a retried page finds the removal by it and erases again.
  await eraseD1(env, { projectId, profileIds: [row.profileId], installationIds: [], customId: null }, outcome.at, [
    drizzle(env.DB)
      .insert(erasureSteps)
      .values({ requestId, step: "d1", detail: d1Step, at: outcome.at })
      .onConflictDoNothing(),
  ]);
  // Its event history in R2 goes too, in the page's sweep (the tombstone keeps late events out).
  return {
    row,
    erasure: { requestId, profileIds: [row.profileId], at: outcome.at },
    complete: (events) => ({ ...base, outcome: "removed", detail: { ...outcome, staged: { events } } }),
  };
}

/**
 * Removals of this job, kind and project in (`after`, `through`] whose `d1` step is recorded
 * (before their tombstone) and whose staged events are not all deleted. D1 no longer nominates
 * them once tombstoned, so a page that failed between a tombstone and queuing its resume finds
 * them here when it runs again. Bounded by the range (or `limit`): it reads at most the steps of
 * a page's removals, then their profile rows, each on its shard.
 */
export async function unfinished(
  env: Env,
  m: ProfilesMessage,
  after: string | null,
  through: string | null,
  limit: number,
): Promise<Candidate[]> {
  const prefix = stepsPrefix(m.job_id, m.kind);
  const upper = through === null ? `d.request_id < ?3` : `d.request_id <= ?3`;
  const projection = await projectionFor(env, m.project_id);
  const found: Candidate[] = [];
  // The steps are control rows on DB, one job's for every project; the profiles are on this
  // project's shards. Steps are read a page at a time until `limit` of this project's are found.
  let cursor = `${prefix}${after ?? ""}`;
  for (;;) {
    const { results } = await env.DB.prepare(
      `SELECT d.request_id AS requestId, substr(d.request_id, ?1) AS profileId
         FROM erasure_steps d
         LEFT JOIN erasure_steps r ON r.request_id = d.request_id AND r.step = 'r2'
        WHERE d.step = 'd1' AND d.request_id > ?2 AND ${upper}
          AND (r.request_id IS NULL OR json_extract(r.detail, '$.next') IS NOT NULL)
        ORDER BY d.request_id LIMIT ?4`,
    )
      .bind(prefix.length + 1, cursor, through === null ? `${prefix.slice(0, -1)};` : `${prefix}${through}`, limit)
      .all<{ requestId: string; profileId: string }>();
    if (results.length === 0) return found;
    // Each profile row on its own shard; back in profile ID order once gathered.
    const mine = (
      await readByProfile(
        projection,
        results.map((r) => r.profileId),
        (shard, ids) =>
          shard.db
            .select(candidateColumns)
            .from(profiles)
            .where(
              and(
                eq(profiles.projectId, m.project_id),
                sql`${profiles.profileId} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
              ),
            ),
      )
    ).sort((a, b) => byText(a.profileId, b.profileId));
    found.push(...mine.slice(0, limit - found.length));
    if (found.length >= limit || results.length < limit) return found;
    cursor = (results.at(-1) as { requestId: string }).requestId;
  }
}

/** Profiles D1 nominates in (`after`, `through`]: active (or orphaned) with no activity since `cutoff`. */
export async function nominate(
  env: Env,
  m: ProfilesMessage,
  cutoff: string,
  after: string | null,
  through: string | null,
  limit: number,
): Promise<Candidate[]> {
  return pageByProfile(await projectionFor(env, m.project_id), limit, (shard, n) =>
    shard.db
      .select(candidateColumns)
      .from(profiles)
      .where(
        and(
          eq(profiles.projectId, m.project_id),
          eq(profiles.state, m.kind === "inactive" ? "active" : "orphaned"),
          lt(profiles.lastActivityAt, cutoff),
          after ? gt(profiles.profileId, after) : undefined,
          through ? lte(profiles.profileId, through) : undefined,
        ),
      )
      .orderBy(asc(profiles.profileId))
      .limit(n),
  );
}

/** Candidates by profile ID, each once, the first `limit`. */
export function firstOf(rows: Candidate[], limit: number): Candidate[] {
  const byId = new Map(rows.map((r) => [r.profileId, r]));
  return [...byId.values()].sort((a, b) => (a.profileId < b.profileId ? -1 : 1)).slice(0, limit);
}

/**
 * Runs one page of a project's profiles: its range (`cursor`, `through`], and the removals
 * `resume` carries. Each removal is idempotent by job and profile, so the page can run again.
 */
export async function profilesPage(env: Env, m: ProfilesMessage, job: Job, cutoff: string): Promise<void> {
  const page = { type: m.type, job_id: m.job_id, project_id: m.project_id, kind: m.kind };
  const resumed = !m.resume ? [] : "rows" in m.resume ? m.resume.rows : [m.resume.row];
  // A message from before pages had ranges carries only its resumed removal: the lead goes on after it.
  const ranged = m.through !== undefined;
  // Resumed removals count against the page: a message never runs more than a page of them.
  const room = Math.max(0, purgePaging.profiles - resumed.length);
  const rows =
    ranged && room > 0
      ? firstOf(
          [
            ...(await nominate(env, m, cutoff, m.cursor, m.through ?? null, room)),
            // Removals this range left unfinished on an earlier run, if any.
            ...(await unfinished(env, m, m.cursor, m.through ?? null, room)),
          ],
          room,
        )
      : [];
  const erase = (row: Candidate) =>
    m.kind === "inactive"
      ? eraseInactive(env, job, m.project_id, row, cutoff)
      : eraseOrphan(env, job, m.project_id, row, cutoff);
  const erased = await mapBounded([...resumed, ...rows], purgePaging.inFlight, erase);
  const results = erased.flatMap((e) => ("result" in e ? [e.result] : []));
  const pending = erased.flatMap((e) => ("erasure" in e ? [e] : []));
  // One allowance of staged objects for the whole message, whatever the number of profiles.
  const staged = await eraseStaged(
    env,
    m.project_id,
    pending.map((p) => p.erasure),
    stagedBudget(),
  );
  const complete = pending.flatMap((p, k) => (staged[k]?.done ? [{ p, events: staged[k]?.events ?? 0 }] : []));
  // Receipts and webhooks of the finished removals, in one read and one publish for the page.
  const finishing = complete.flatMap(({ p }) => (p.finish ? [p.finish] : []));
  const receipts = new Map(
    (await finishRemovals(env, m.project_id, finishing)).map((r, k) => [finishing[k]?.req.requestId, r]),
  );
  results.push(...complete.map(({ p, events }) => p.complete(events, receipts.get(p.finish?.req.requestId))));
  const left = [
    ...pending.filter((_, k) => !staged[k]?.done).map((p) => p.row),
    ...erased.flatMap((e) => ("again" in e ? [e.again] : [])),
  ];

  const cursor = rows.at(-1)?.profileId ?? m.cursor;
  const next: PurgeMessage[] = [];
  const range = ranged ? { through: m.through } : {};
  if (left.length) {
    next.push({ ...page, cursor, ...range, resume: { rows: left, part: (m.resume?.part ?? 0) + 1 } });
  } else if (!ranged) {
    next.push({ ...page, cursor });
  } else if (rows.length === room && cursor !== m.through) {
    // The range may hold more than this message took: the rest goes on in the next one.
    next.push({ ...page, cursor, ...range });
  }
  const db = drizzle(env.DB);
  await handOn(
    env,
    m,
    next,
    results.map((r) => db.insert(purgeResults).values(r).onConflictDoNothing()),
  );
}
