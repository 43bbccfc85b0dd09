import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { deadLetters, privacyRequests } from "../db/schema";

/** Days a review archive or an on-demand export is kept (SPEC §5 Privacy). */
export const COPY_DAYS = 7;
const DAY_MS = 86_400_000;

/** Whose copies a removal deletes: its identifiers and profiles. */
export interface CopySubject {
  customId: string | null;
  profileIds: string[];
  installationIds: string[];
}

/**
 * Deletes the copies a removal can reach: the review archives of its identifiers (the R2
 * object goes, the request keeps when it went and answers 410) and the dead-letter rows whose
 * body names one of its identifiers or profiles. Safe to run again.
 */
export async function deleteCopies(
  env: Env,
  projectId: string,
  s: CopySubject,
  at: string,
): Promise<{ review_archives: number; dead_letters: number }> {
  const db = drizzle(env.DB);
  const ids = JSON.stringify([...(s.customId === null ? [] : [s.customId]), ...s.installationIds]);
  const reviews = await db
    .select({ id: privacyRequests.id, key: privacyRequests.archiveKey })
    .from(privacyRequests)
    .where(
      and(
        eq(privacyRequests.projectId, projectId),
        eq(privacyRequests.type, "review"),
        sql`${privacyRequests.archiveKey} IS NOT NULL AND ${privacyRequests.archiveDeletedAt} IS NULL`,
        sql`${privacyRequests.identifierValue} IN (SELECT value FROM json_each(${ids}))`,
      ),
    );
  const keys = reviews.flatMap((r) => (r.key ? [r.key] : []));
  if (keys.length) await env.EXPORTS.delete(keys);
  // A body is stored as JSON: an identifier appears in it as its JSON string.
  const needles = JSON.stringify([...JSON.parse(ids), ...s.profileIds].map((v: string) => JSON.stringify(v)));
  const [, dropped] = await db.batch([
    db
      .update(privacyRequests)
      .set({ archiveDeletedAt: at })
      .where(sql`${privacyRequests.id} IN (SELECT value FROM json_each(${JSON.stringify(reviews.map((r) => r.id))}))`),
    db
      .delete(deadLetters)
      .where(
        and(
          eq(deadLetters.projectId, projectId),
          sql`EXISTS (SELECT 1 FROM json_each(${needles}) n WHERE instr(${deadLetters.body}, n.value) > 0)`,
        ),
      )
      .returning({ id: deadLetters.messageId }),
  ]);
  return { review_archives: reviews.length, dead_letters: dropped.length };
}

/** When each kind of copy a removal at `at` leaves is gone, for its receipt. */
export function copiesGone(
  at: string,
  deleted: { review_archives: number; dead_letters: number },
  exportRetentionDays: number,
) {
  const after = (days: number) => new Date(Date.parse(at) + days * DAY_MS).toISOString();
  return {
    review_archives: { deleted: deleted.review_archives, gone_by: at },
    dead_letters: { deleted: deleted.dead_letters, gone_by: at },
    profile_exports: { gone_by: after(COPY_DAYS) },
    daily_exports: { gone_by: after(exportRetentionDays) },
  };
}
