import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { erasureSteps } from "../db/schema";
import { deleteStagedEvents } from "../exports/staging";
import type { ReceiptStep } from "./remove";

/*
 * A removal's last data step: its profiles' staged events (event history in R2), read in
 * bounded listings that removals at the same point share (SPEC §5 Privacy).
 */

/**
 * How much of the staged event history a queue message reads: `pages` pages of `objects`
 * objects. A test makes it small to see a remove span several messages.
 */
export const stagedPaging = { pages: 5, objects: 200 };

/**
 * What is left of one message's allowance of staged objects to read. A privacy remove takes a
 * fresh one per message; a purge page shares one across the profiles it removes, so a page of
 * many profiles reads no more than a message of one.
 */
export interface StagedBudget {
  objects: number;
}

export const stagedBudget = (): StagedBudget => ({ objects: stagedPaging.pages * stagedPaging.objects });

/**
 * An `r2` step's progress: where the listing of the project's staged objects goes on (null
 * once every object was read). A record from before listings were shared (`index`, one
 * profile at a time) starts over: deleting again is harmless.
 */
type StagedProgress = ReceiptStep & { next: { cursor: string | null; index?: number } | null };

/** One removal's staged events to delete: its request and the profiles whose events go. */
export interface StagedErasure {
  requestId: string;
  profileIds: string[];
  at: string;
}

/**
 * Deletes removed profiles' staged events (event history in R2), reading no more objects than
 * `budget` has left (and taking them off it). Removals at the same point of the listing share
 * it: each object is read once for all of them, so a purge page removing many profiles costs
 * what one removal does. Progress and each removal's running count live on its request's `r2`
 * step, so the next message resumes where this one stopped. Per removal, in order: `done` once
 * its events are gone; `events` counts them over all messages so far.
 */
export async function eraseStaged(
  env: Env,
  projectId: string,
  erasures: StagedErasure[],
  budget: StagedBudget,
): Promise<{ done: boolean; events: number }[]> {
  if (erasures.length === 0) return [];
  const db = drizzle(env.DB);
  const requestIds = erasures.map((e) => e.requestId);
  const rows = await db
    .select()
    .from(erasureSteps)
    .where(
      and(
        eq(erasureSteps.step, "r2"),
        sql`${erasureSteps.requestId} IN (SELECT value FROM json_each(${JSON.stringify(requestIds)}))`,
      ),
    );
  const recorded = new Map(rows.map((r) => [r.requestId, r.detail as unknown as StagedProgress]));
  const steps = erasures.map((e): StagedProgress => {
    const step = recorded.get(e.requestId) ?? {
      step: "r2",
      where: "r2",
      at: e.at,
      rows: { events: 0 },
      next: { cursor: null },
    };
    if (step.next && (step.next.index !== undefined || e.profileIds.length === 0)) {
      step.next = e.profileIds.length === 0 ? null : { cursor: null };
    }
    return step;
  });
  // Removals at the same point of the listing go through it together.
  const groups = new Map<string, number[]>();
  steps.forEach((step, k) => {
    if (!step.next) return;
    const at = step.next.cursor ?? "";
    groups.set(at, [...(groups.get(at) ?? []), k]);
  });
  for (const members of groups.values()) {
    const owner = new Map<string, number>();
    for (const k of members) for (const id of erasures[k]?.profileIds ?? []) if (!owner.has(id)) owner.set(id, k);
    let cursor = steps[members[0] as number]?.next?.cursor ?? null;
    let done = false;
    while (!done && budget.objects > 0) {
      const scan = await deleteStagedEvents(env, projectId, [...owner.keys()], {
        cursor: cursor ?? undefined,
        limit: Math.min(stagedPaging.objects, budget.objects),
      });
      // An empty listing still costs a call: it counts as one object.
      budget.objects -= Math.max(scan.objects, 1);
      for (const [profileId, n] of scan.byProfile) {
        const step = steps[owner.get(profileId) as number];
        if (step) step.rows = { events: (step.rows.events ?? 0) + n };
      }
      cursor = scan.cursor;
      done = cursor === null;
    }
    for (const k of members) {
      const step = steps[k] as StagedProgress;
      step.next = done ? null : { cursor };
    }
  }
  const [first, ...rest] = steps.map((step, k) =>
    db
      .insert(erasureSteps)
      .values({ requestId: erasures[k]?.requestId as string, step: "r2", detail: { ...step }, at: step.at })
      .onConflictDoUpdate({ target: [erasureSteps.requestId, erasureSteps.step], set: { detail: { ...step } } }),
  );
  if (first) await db.batch([first, ...rest]);
  return steps.map((step) => ({ done: step.next === null, events: step.rows.events ?? 0 }));
}
