import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import { purgePages } from "../db/schema";

/** Projects a page of projects fans out to. */
export const PROJECTS_PER_PAGE = 50;
/**
 * How a project's profiles are paged (tests make it small):
 * - `profiles`: removals one message runs. Each costs about four calls (its objects, D1) and a
 *   dozen D1 statements (counts, deletes, tombstone, step records), and a Worker invocation may
 *   run 1,000 D1 queries: 25 keep a page near 400, whatever the size of the project.
 * - `inFlight`: removals of a page running at once (a Worker opens six connections at a time).
 * - `pagesPerLead`: pages a project's lead page queues at once, which consumers run side by side.
 */
export const purgePaging = { profiles: 25, inFlight: 6, pagesPerLead: 20 };

/** A profile D1 nominated, and where it is held. */
export type Candidate = {
  profileId: string;
  customId: string | null;
  holderKind: string | null;
  holderId: string | null;
};

export type ProfilesMessage = {
  type: "purge_profiles";
  job_id: string;
  project_id: string;
  kind: "inactive" | "orphan";
  /** The last profile finished: the page nominates profiles after it. */
  cursor: string | null;
  /**
   * The last profile of this page's range. Without it, the page is a project's lead: it splits
   * the next profiles into ranges, one page each, and queues the lead after them.
   */
  through?: string;
  /**
   * Removals whose staged events were still being deleted when the last message ran out of
   * its allowance (D1 no longer nominates them: their tombstones are written). `part` numbers
   * the messages of their removal. A message from before pages shared their listing carries
   * one `row`.
   */
  resume?: { rows: Candidate[]; part: number } | { row: Candidate; part: number };
};

export type PurgeMessage = { type: "purge_projects"; job_id: string; cursor: string | null } | ProfilesMessage;

export function pageKey(m: PurgeMessage): string {
  if (m.type === "purge_projects") return `projects:${m.cursor ?? ""}`;
  const range = m.through === undefined ? "" : `..${m.through}`;
  const key = `${m.project_id}:${m.kind}:${m.cursor ?? ""}${range}`;
  return m.resume ? `${key}#${m.resume.part}` : key;
}

/**
 * Queues the pages `m` leads to, then records them and marks `m` done in one transaction. A
 * page that runs before its parent recorded it creates its own row as done, and the parent's
 * insert leaves that row alone. `extra` statements (the page's results) commit with them.
 */
export async function handOn(
  env: Env,
  m: PurgeMessage,
  next: PurgeMessage[],
  extra: BatchItem<"sqlite">[] = [],
): Promise<void> {
  if (next.length) await env.PURGE.sendBatch(next.map((body) => ({ body })));
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
  await db.batch([self, ...children, ...extra]);
}

/** `purge_pages.done` of a page that failed every retry: not pending, and the job ends `failed`. */
export const PAGE_FAILED = 2;

/**
 * A page that reached the dead-letter queue: settled as failed, so its job stops waiting for it
 * and says `failed`. The pages it would have queued never run; a later purge nominates their
 * profiles again. A page delivered again after this and finishing marks itself done.
 */
export async function failPage(env: Env, m: PurgeMessage): Promise<void> {
  await drizzle(env.DB)
    .insert(purgePages)
    .values({ jobId: m.job_id, page: pageKey(m), done: PAGE_FAILED })
    .onConflictDoUpdate({ target: [purgePages.jobId, purgePages.page], set: { done: PAGE_FAILED } });
}
