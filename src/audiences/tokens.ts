import { and, eq, gt, inArray } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { audienceTokens } from "../db/schema";
import { uuidv7 } from "../lib/ids";

export type TokenKind = (typeof audienceTokens.$inferSelect)["kind"];
export type IndexingState = "IN_PROGRESS" | "APPLIED" | "REPLACED";

let lastMs = 0;
/** Time-ordered, one millisecond apart at least within an isolate: REPLACED compares tokens. */
function nextToken(): string {
  lastMs = Math.max(Date.now(), lastMs + 1);
  return uuidv7(lastMs);
}

/**
 * Runs one audience change under a new indexing token: recorded `IN_PROGRESS` before the change
 * starts and `APPLIED` once it is done. A change that fails drops its token: the caller never
 * got it, and the audience is as it was.
 */
export async function withIndexingToken(
  db: DrizzleD1Database,
  projectId: string,
  audience: string,
  kind: TokenKind,
  change: () => Promise<unknown>,
): Promise<string> {
  const token = nextToken();
  await db
    .insert(audienceTokens)
    .values({ token, projectId, audience, kind, state: "IN_PROGRESS", createdAt: new Date().toISOString() });
  try {
    await change();
  } catch (error) {
    await db.delete(audienceTokens).where(eq(audienceTokens.token, token));
    throw error;
  }
  await db.update(audienceTokens).set({ state: "APPLIED" }).where(eq(audienceTokens.token, token));
  return token;
}

/**
 * A token's state: as recorded, or `REPLACED` once a later replace or removal of its audience
 * was applied (its change no longer shows). Null for a token of another project or audience.
 */
export async function tokenState(
  db: DrizzleD1Database,
  projectId: string,
  audience: string,
  token: string,
): Promise<IndexingState | null> {
  const mine = and(eq(audienceTokens.projectId, projectId), eq(audienceTokens.audience, audience));
  const [found, later] = await db.batch([
    db
      .select({ state: audienceTokens.state })
      .from(audienceTokens)
      .where(and(mine, eq(audienceTokens.token, token))),
    db
      .select({ token: audienceTokens.token })
      .from(audienceTokens)
      .where(
        and(
          mine,
          gt(audienceTokens.token, token),
          eq(audienceTokens.state, "APPLIED"),
          inArray(audienceTokens.kind, ["replace", "remove"]),
        ),
      )
      .limit(1),
  ]);
  const row = found[0];
  if (!row) return null;
  return row.state === "APPLIED" && later.length > 0 ? "REPLACED" : row.state;
}

/** The audiences among `names` with a change in progress. */
export async function audiencesInProgress(
  db: DrizzleD1Database,
  projectId: string,
  names: string[],
): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db
    .selectDistinct({ audience: audienceTokens.audience })
    .from(audienceTokens)
    .where(
      and(
        eq(audienceTokens.projectId, projectId),
        inArray(audienceTokens.audience, names),
        eq(audienceTokens.state, "IN_PROGRESS"),
      ),
    );
  return new Set(rows.map((r) => r.audience));
}
