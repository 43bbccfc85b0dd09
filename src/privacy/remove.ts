import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { erasureSteps, projects } from "../db/schema";
import type { EraseOutcome, EraseRequest, ObjectErasure } from "../identity/erase";
import { customIdStub, installationStub } from "../identity/identifiers";
import { mapBounded } from "../lib/concurrency";
import { profileRemovedItem } from "../webhooks/items";
import { publishWebhookItems } from "../webhooks/publish";
import { copiesGone, deleteCopies } from "./copies";
import { countD1, eraseD1, isTombstoned } from "./erase-d1";
import { heldInD1 } from "./held-in-d1";
import { eraseStaged, type StagedBudget, stagedBudget } from "./staged-erasure";

export type Identifier = { type: "custom_id" | "installation_id"; value: string };

/** Where a profile is held: what a remove starts from. */
export type Holder = { kind: "custom_id"; customId: string } | { kind: "installation"; installationId: string };

/** The end of a remove: done with its receipt, or why nothing was deleted. */
export type RemoveResult =
  | { removed: true; profileId: string; receipt: Receipt }
  /** Staged events are still being deleted: run the same remove again (it resumes). */
  | { removed: "in_progress"; profileId: string }
  | { removed: false; reason: Exclude<EraseOutcome, ObjectErasure>["reason"]; detail?: string };

export interface ReceiptStep {
  step: string;
  where: "custom_id_object" | "installation_object" | "d1" | "r2";
  at: string;
  rows: Record<string, number>;
  profiles?: { profile_id: string; state: string }[];
  installation_id?: string;
}

/** What a remove deleted where, with counts and times (SPEC §5 Privacy). */
export interface Receipt {
  profile_id: string;
  profile_ids: string[];
  installation_ids: string[];
  custom_id_freed: boolean;
  steps: ReceiptStep[];
  totals: Record<string, number>;
  /** Each kind of copy: how many were deleted, and when the last of it is gone. */
  copies?: ReturnType<typeof copiesGone>;
}

function objectStep(step: string, where: ReceiptStep["where"], e: ObjectErasure, installationId?: string): ReceiptStep {
  return {
    step,
    where,
    at: e.at,
    rows: e.rows,
    profiles: e.profiles,
    ...(installationId ? { installation_id: installationId } : {}),
  };
}

/** A removal whose objects and D1 rows are gone: its staged events are next, then its receipt. */
export interface Tombstoned {
  tombstoned: true;
  profileId: string;
  customId: string | null;
  /** The removed profile and the orphans its objects kept: their staged events go. */
  profileIds: string[];
  installationIds: string[];
}

type EraseResult = RemoveResult | Tombstoned;

/**
 * How many of a custom ID's installations one message erases: a profile signed in on
 * thousands of devices is removed over several messages, each resuming from the recorded
 * steps, so the number of installations never decides whether a remove can finish.
 */
export const removePaging = { installations: 50 };

/** A recorded step, with what the receipt leaves out: the D1 step's subject, an installation skipped. */
type RecordedStep = ReceiptStep & { subject?: Omit<Tombstoned, "tombstoned">; skipped?: string };

async function recordedSteps(env: Env, requestId: string): Promise<RecordedStep[]> {
  const rows = await drizzle(env.DB).select().from(erasureSteps).where(eq(erasureSteps.requestId, requestId));
  return rows.map((r) => r.detail as unknown as RecordedStep);
}

/**
 * The holder's object first (its guard decides, in the same transaction as the delete). An
 * object already empty may still have a profile in D1, left by a remove that gave up after
 * emptying it: D1 is then the holder, with the same guards ({@link heldInD1}).
 */
async function eraseHolder(
  env: Env,
  projectId: string,
  holder: Holder,
  req: Omit<EraseRequest, "requestId" | "at"> & { requestId: string; at: string },
): Promise<EraseOutcome> {
  const outcome =
    holder.kind === "custom_id"
      ? await customIdStub(env, projectId, holder.customId).erase(req)
      : await installationStub(env, projectId, holder.installationId).erase(req);
  if (outcome.erased || outcome.reason !== "not_held") return outcome;
  return heldInD1(env, projectId, holder, req);
}

/**
 * Removes a profile from everywhere but its staged events: the holder's object first, then the
 * installations it lists (a page per message: `in_progress` says run it again), then D1,
 * leaving a tombstone there. Every step is idempotent by `requestId` and recorded once, so a
 * retried message carries on where the last attempt stopped and the receipt keeps the first
 * counts; a remove that gave up part-way is finished by the next one. A dry run ends here with
 * its receipt.
 */
export async function eraseProfile(
  env: Env,
  projectId: string,
  holder: Holder,
  req: Omit<EraseRequest, "requestId" | "at"> & { requestId: string; at: string },
): Promise<EraseResult> {
  const recorded = req.dryRun ? [] : await recordedSteps(env, req.requestId);
  const tombstone = recorded.find((s) => s.step === "d1")?.subject;
  if (tombstone) {
    // The steps are recorded before the shard's erase (another database): finish one that did not commit.
    const subject = { projectId, ...tombstone };
    if (!(await isTombstoned(env, subject))) await eraseD1(env, subject, req.at);
    return { tombstoned: true, ...tombstone };
  }

  const outcome = await eraseHolder(env, projectId, holder, req);
  if (!outcome.erased) return { removed: false, reason: outcome.reason };
  const own =
    holder.kind === "custom_id"
      ? (outcome.profiles.find((p) => p.state === "active") ?? outcome.profiles[0])
      : outcome.profiles.find((p) => p.state === "active");
  if (!own) return { removed: false, reason: "not_held" };
  const profileId = own.profile_id;
  const customId = holder.kind === "custom_id" ? holder.customId : null;
  const steps: RecordedStep[] = [
    holder.kind === "custom_id"
      ? objectStep("custom_id_object", "custom_id_object", outcome)
      : objectStep(
          `installation_object:${holder.installationId}`,
          "installation_object",
          outcome,
          holder.installationId,
        ),
  ];

  // Installations signed in to the removed profile, a page at a time; one that has since moved
  // to another profile is left alone (its guard answers "moved") and recorded as skipped.
  const installed = recorded.filter((s) => s.where === "installation_object" && s.installation_id);
  const seen = new Set(installed.map((s) => s.installation_id));
  const todo = outcome.members.filter((id) => !seen.has(id));
  const page = req.dryRun ? todo : todo.slice(0, removePaging.installations);
  const erased = await mapBounded(page, 6, async (installationId): Promise<RecordedStep> => {
    const o = await installationStub(env, projectId, installationId).erase({
      requestId: req.requestId,
      at: req.at,
      profileId,
      dryRun: req.dryRun,
    });
    const step = `installation_object:${installationId}`;
    return o.erased
      ? objectStep(step, "installation_object", o, installationId)
      : {
          step,
          where: "installation_object",
          at: req.at,
          rows: {},
          installation_id: installationId,
          skipped: o.reason,
        };
  });
  const db = drizzle(env.DB);
  const record = (step: RecordedStep) =>
    db
      .insert(erasureSteps)
      .values({ requestId: req.requestId, step: step.step, detail: { ...step }, at: step.at })
      .onConflictDoNothing();
  if (todo.length > page.length) {
    const [first, ...rest] = erased.map(record);
    if (first) await db.batch([first, ...rest]);
    return { removed: "in_progress", profileId };
  }
  const all = [...steps, ...installed, ...erased].filter(
    (s, k, list) => list.findIndex((t) => t.step === s.step) === k,
  );
  const kept = all.filter((s) => !s.skipped);
  const profileIds = [...new Set(kept.flatMap((s) => (s.profiles ?? []).map((p) => p.profile_id)))];
  const installationIds = kept.flatMap((s) => (s.installation_id ? [s.installation_id] : []));
  const subject = { projectId, profileIds, installationIds, customId };
  const d1Step: RecordedStep = { step: "d1", where: "d1", at: req.at, rows: await countD1(env, subject) };
  if (req.dryRun) {
    return { removed: true, profileId, receipt: receipt(profileId, customId, [...kept, d1Step]) };
  }
  const result = { profileId, customId, profileIds, installationIds };
  // The objects' steps are recorded, then the tombstone written; the D1 step keeps the subject:
  // a retry finds it, finishes the erase if it did not commit, and goes on to the staged events.
  await eraseD1(env, subject, req.at, [...all, { ...d1Step, subject: result }].map(record));
  return { tombstoned: true, ...result };
}

/**
 * The end of removals whose staged events are gone: each one's receipt from its recorded steps
 * (one read for all), and their webhook items (one publish).
 */
export async function finishRemovals(
  env: Env,
  projectId: string,
  done: { req: { requestId: string; at: string }; t: Tombstoned }[],
): Promise<Receipt[]> {
  if (done.length === 0) return [];
  const requestIds = done.map((d) => d.req.requestId);
  const db = drizzle(env.DB);
  const project = await db
    .select({ days: projects.exportRetentionDays })
    .from(projects)
    .where(eq(projects.id, projectId))
    .get();
  // Copies are deleted again on a retry (harmless); the first counts and times are kept.
  const deleted = await mapBounded(done, 6, ({ req, t }) => deleteCopies(env, projectId, t, req.at));
  const records = done.map(({ req }, k) =>
    db
      .insert(erasureSteps)
      .values({
        requestId: req.requestId,
        step: "copies",
        detail: copiesGone(req.at, deleted[k] ?? { review_archives: 0, dead_letters: 0 }, project?.days ?? 30),
        at: req.at,
      })
      .onConflictDoNothing(),
  );
  const [firstRecord, ...restRecords] = records;
  if (firstRecord) await db.batch([firstRecord, ...restRecords]);
  const steps = await drizzle(env.DB)
    .select()
    .from(erasureSteps)
    .where(sql`${erasureSteps.requestId} IN (SELECT value FROM json_each(${JSON.stringify(requestIds)}))`);
  // The item's id is the request's and the profile's: a repeated publish is deduplicated downstream.
  await publishWebhookItems(
    env,
    done.map(({ req, t }) =>
      profileRemovedItem(
        projectId,
        req.requestId,
        {
          profile_id: t.profileId,
          custom_id: t.customId,
          installation_id: t.installationIds[0] ?? null,
          time: req.at,
        },
        { profile_ids: t.profileIds, installation_ids: t.installationIds },
      ),
    ),
  );
  return done.map(({ req, t }) => {
    const mine = steps.filter((s) => s.requestId === req.requestId);
    const copies = mine.find((s) => s.step === "copies")?.detail as Receipt["copies"];
    return {
      ...receipt(
        t.profileId,
        t.customId,
        mine.filter((s) => s.step !== "copies").map((s) => s.detail as unknown as RecordedStep),
      ),
      copies,
    };
  });
}

/**
 * Removes a profile everywhere it lives ({@link eraseProfile}), then its staged events within
 * `budget`, then publishes its removal. `in_progress` when staged events remain: run the same
 * remove again and it resumes from its recorded steps.
 */
export async function removeProfile(
  env: Env,
  projectId: string,
  holder: Holder,
  req: Omit<EraseRequest, "requestId" | "at"> & { requestId: string; at: string },
  budget: StagedBudget = stagedBudget(),
): Promise<RemoveResult> {
  const erased = await eraseProfile(env, projectId, holder, req);
  if (!("tombstoned" in erased)) return erased;
  const [staged] = await eraseStaged(
    env,
    projectId,
    [{ requestId: req.requestId, profileIds: erased.profileIds, at: req.at }],
    budget,
  );
  if (!staged?.done) return { removed: "in_progress", profileId: erased.profileId };
  const [done] = await finishRemovals(env, projectId, [{ req, t: erased }]);
  return { removed: true, profileId: erased.profileId, receipt: done as Receipt };
}

const STEP_ORDER: Record<ReceiptStep["where"], number> = {
  custom_id_object: 0,
  installation_object: 1,
  d1: 2,
  r2: 3,
};

function receipt(profileId: string, customId: string | null, unordered: RecordedStep[]): Receipt {
  const steps = unordered
    .filter((s) => !s.skipped)
    .sort((a, b) => STEP_ORDER[a.where] - STEP_ORDER[b.where] || a.step.localeCompare(b.step));
  const totals: Record<string, number> = {};
  for (const s of steps) {
    for (const [table, n] of Object.entries(s.rows)) {
      const key = `${s.where}.${table}`;
      totals[key] = (totals[key] ?? 0) + n;
    }
  }
  return {
    profile_id: profileId,
    profile_ids: [...new Set(steps.flatMap((s) => (s.profiles ?? []).map((p) => p.profile_id)))],
    installation_ids: steps.flatMap((s) => (s.installation_id ? [s.installation_id] : [])),
    custom_id_freed: customId !== null,
    steps: steps.map(({ next: _next, subject: _subject, ...step }: RecordedStep & { next?: unknown }) => step),
    totals,
  };
}
