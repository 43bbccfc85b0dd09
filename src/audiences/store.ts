import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { audienceMembers, audiences } from "../db/schema";
import { projectionFor } from "../db/shards";
import { ApiError, type ErrorIssue } from "../lib/errors";
import {
  type AudienceRow,
  type AudienceType,
  checkMember,
  claimGeneration,
  commitGeneration,
  deleteGenerations,
  GenerationWriter,
  patchMembers,
} from "./members";

/*
 * The audience operations both APIs call: `/v1/audiences` (audiences.handlers.ts) and Batch's
 * Audience API (src/batch/audiences.handlers.ts). Each takes the projection's databases, so the
 * choice of database stays with the caller.
 *
 * Every shard of a split project holds a whole copy of each audience (docs/decisions.md,
 * "Projection shards: split projects"), so a segment joins members with the profiles where they
 * are. The first database answers (404, 409, the row shown); a change is made there first and
 * then on the copies, each an idempotent step, so a change retried after a failure part-way
 * brings every copy to the same members. A copy found missing is made again from the first.
 */

/** An audience's databases: the first answers, the others hold copies (one for a project that is not split). */
export type AudienceDbs = DrizzleD1Database | readonly DrizzleD1Database[];

const allOf = (dbs: AudienceDbs): readonly DrizzleD1Database[] =>
  Array.isArray(dbs) ? dbs : [dbs as DrizzleD1Database];
const firstOf = (dbs: AudienceDbs): DrizzleD1Database => allOf(dbs)[0] as DrizzleD1Database;
const copiesOf = (dbs: AudienceDbs) => allOf(dbs).slice(1);

/** A writer of a replace's members: one generation per database, each fed the same members. */
export class CopiesWriter {
  constructor(private readonly writers: readonly GenerationWriter[]) {}

  add(member: string): void {
    for (const w of this.writers) w.add(member);
  }

  async write(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.write()));
  }

  async flush(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.flush()));
  }

  async settle(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.settle()));
  }
}

/** A refused list lists at most this many problems. */
export const MAX_ISSUES = 100;

const audienceIs = (projectId: string, name: string) =>
  and(eq(audiences.projectId, projectId), eq(audiences.name, name));

/**
 * The project's shards for an audience change, the one that answers first. Refused (409, retry later) while the project
 * moves: a move copies audiences rather than replaying them, so a change made on the old shard
 * after the copy would be lost.
 */
export async function audienceWriteDb(env: Env, projectId: string): Promise<readonly DrizzleD1Database[]> {
  const projection = await projectionFor(env, projectId);
  if (projection.moving) {
    throw new ApiError("CONFLICT", "This project's data is moving to another shard: retry the audience change later.", {
      headers: { "Retry-After": "60" },
    });
  }
  return projection.shards.map((s) => s.db);
}

export const audienceNotFound = (name: string) => new ApiError("NOT_FOUND", `No audience "${name}".`);

/** The audience, or 404. */
export async function findAudience(dbs: AudienceDbs, projectId: string, name: string): Promise<AudienceRow> {
  const row = await firstOf(dbs).select().from(audiences).where(audienceIs(projectId, name)).get();
  if (!row) throw audienceNotFound(name);
  return row;
}

/**
 * Creates an empty audience; null when one of that name exists. The copies first: a create
 * retried after a failure part-way leaves the copies as they are and makes the first.
 */
export async function createAudienceRow(
  dbs: AudienceDbs,
  projectId: string,
  input: { name: string; type: AudienceType; description: string | null },
): Promise<AudienceRow | null> {
  for (const copy of copiesOf(dbs)) await insertAudience(copy, projectId, input);
  return insertAudience(firstOf(dbs), projectId, input);
}

async function insertAudience(
  db: DrizzleD1Database,
  projectId: string,
  input: { name: string; type: AudienceType; description: string | null },
): Promise<AudienceRow | null> {
  const now = new Date().toISOString();
  const created = await db
    .insert(audiences)
    .values({
      projectId,
      name: input.name,
      type: input.type,
      description: input.description,
      size: 0,
      // Above any rows a deleted audience of the same name may still be leaving behind.
      generation: sql`(SELECT coalesce(max(generation), -1) + 1 FROM ${audienceMembers}
        WHERE ${audienceMembers.projectId} = ${projectId} AND ${audienceMembers.audience} = ${input.name})`,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
    .get();
  return created ?? null;
}

/** The project's audiences by name, from after `after` (exclusive), at most `limit` when given. */
export async function listAudienceRows(
  dbs: AudienceDbs,
  projectId: string,
  page: { after?: string; limit?: number } = {},
): Promise<AudienceRow[]> {
  const where =
    page.after === undefined
      ? eq(audiences.projectId, projectId)
      : and(eq(audiences.projectId, projectId), gt(audiences.name, page.after));
  const query = firstOf(dbs).select().from(audiences).where(where).orderBy(asc(audiences.name));
  return page.limit === undefined ? query : query.limit(page.limit);
}

/** The stored form of each ID, or every problem, each at `<field>.<index>`. */
export function checkIds(
  type: AudienceType,
  field: string,
  ids: readonly string[],
): { members: string[]; issues: ErrorIssue[] } {
  const members: string[] = [];
  const issues: ErrorIssue[] = [];
  ids.forEach((id, index) => {
    const checked = checkMember(type, id);
    if ("member" in checked) members.push(checked.member);
    else if (issues.length < MAX_ISSUES) issues.push({ path: `${field}.${index}`, message: checked.problem });
  });
  return { members, issues };
}

/**
 * Writes a new generation with `write` (on every copy at once) and makes it the members; on any
 * failure the new generations' rows are deleted and the members stay as they were.
 */
export async function replaceAudienceMembers(
  dbs: AudienceDbs,
  projectId: string,
  name: string,
  write: (writer: CopiesWriter, type: AudienceType) => Promise<void>,
  onCleanupError: (error: unknown) => void = () => {},
): Promise<AudienceRow> {
  // Claimed before anything is read, so an unknown audience is refused without reading it.
  const claim = await claimGeneration(firstOf(dbs), projectId, name);
  if (!claim) throw audienceNotFound(name);
  const claims = [{ db: firstOf(dbs), claim }];
  // A copy whose switch was tried is left out of the cleanup: its switch may have applied, and
  // a refused switch drops its own rows (commitGeneration).
  const unswitched = new Set(claims);
  const cleanup = async (writer?: CopiesWriter) => {
    try {
      // No batch of these generations may land after their rows are deleted.
      await writer?.settle();
      for (const c of unswitched)
        await deleteGenerations(c.db, projectId, name, sql`generation = ${c.claim.generation}`);
    } catch (error) {
      // The rows left are of a generation that never becomes current; the next replace deletes them.
      onCleanupError(error);
    }
  };
  let writer: CopiesWriter | undefined;
  try {
    for (const copy of copiesOf(dbs)) {
      const c = { db: copy, claim: await claimCopy(copy, projectId, claim.audience) };
      claims.push(c);
      unswitched.add(c);
    }
    writer = new CopiesWriter(claims.map((c) => new GenerationWriter(c.db, projectId, name, c.claim.generation)));
    await write(writer, claim.audience.type);
    // The copies switch first: the first switches last, once every copy holds the new members.
    for (const c of claims.slice(1)) {
      unswitched.delete(c);
      await commitGeneration(c.db, projectId, name, c.claim.audience.generation, c.claim.generation);
    }
  } catch (error) {
    await cleanup(writer);
    throw error;
  }
  // Not in the cleanup above: if the switch failed after D1 applied it, the new rows are the members.
  return commitGeneration(firstOf(dbs), projectId, name, claim.audience.generation, claim.generation);
}

/** A copy's claim; a copy missing (a create that failed part-way) is made again from `audience`. */
async function claimCopy(db: DrizzleD1Database, projectId: string, audience: AudienceRow) {
  let claimed = await claimGeneration(db, projectId, audience.name);
  if (!claimed) {
    await insertAudience(db, projectId, audience);
    claimed = await claimGeneration(db, projectId, audience.name);
  }
  if (!claimed) throw new Error(`The copy of audience "${audience.name}" could not be claimed.`);
  return claimed;
}

/** Replaces the members with checked IDs (stored forms), already in memory. */
export function replaceWithMembers(
  dbs: AudienceDbs,
  projectId: string,
  name: string,
  members: readonly string[],
  onCleanupError?: (error: unknown) => void,
): Promise<AudienceRow> {
  return replaceAudienceMembers(
    dbs,
    projectId,
    name,
    async (writer) => {
      for (const member of members) writer.add(member);
      await writer.flush();
    },
    onCleanupError,
  );
}

/** Adds and removes checked members (stored forms); 404 when the audience does not exist. */
export async function patchAudienceMembers(
  dbs: AudienceDbs,
  projectId: string,
  name: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<AudienceRow> {
  const audience = await patchMembers(firstOf(dbs), projectId, name, add, remove);
  if (!audience) throw audienceNotFound(name);
  for (const copy of copiesOf(dbs)) {
    if (await patchMembers(copy, projectId, name, add, remove)) continue;
    // A missing copy is made again whole: a patch alone would give it only these members.
    const claim = await claimCopy(copy, projectId, audience);
    const writer = new CopiesWriter([new GenerationWriter(copy, projectId, name, claim.generation)]);
    await copyMembers(firstOf(dbs), projectId, audience, writer);
    await commitGeneration(copy, projectId, name, claim.audience.generation, claim.generation);
  }
  return audience;
}

/** Feeds `writer` the current members of `audience` as `db` holds them, a page at a time. */
async function copyMembers(db: DrizzleD1Database, projectId: string, audience: AudienceRow, writer: CopiesWriter) {
  let after = "";
  for (;;) {
    const page = await db
      .select({ member: audienceMembers.member })
      .from(audienceMembers)
      .where(
        and(
          eq(audienceMembers.projectId, projectId),
          eq(audienceMembers.audience, audience.name),
          eq(
            audienceMembers.generation,
            sql`(SELECT generation FROM audiences WHERE project_id = ${projectId} AND name = ${audience.name})`,
          ),
          gt(audienceMembers.member, after),
        ),
      )
      .orderBy(asc(audienceMembers.member))
      .limit(1000);
    for (const r of page) writer.add(r.member);
    await writer.write();
    if (page.length < 1000) break;
    after = (page.at(-1) as { member: string }).member;
  }
  await writer.flush();
}

/**
 * Deletes an audience and its members; 404 when it does not exist. The copies first: a delete
 * retried after a failure part-way still finds the first, and answers as the first time.
 */
export async function deleteAudienceRow(dbs: AudienceDbs, projectId: string, name: string): Promise<void> {
  for (const copy of copiesOf(dbs)) await deleteOn(copy, projectId, name);
  if (!(await deleteOn(firstOf(dbs), projectId, name))) throw audienceNotFound(name);
}

/** Deletes the audience on one database; false when it holds none of that name. */
async function deleteOn(db: DrizzleD1Database, projectId: string, name: string): Promise<boolean> {
  const [highest, deleted] = await db.batch([
    db
      .select({ generation: sql<number | null>`max(${audienceMembers.generation})` })
      .from(audienceMembers)
      .where(and(eq(audienceMembers.projectId, projectId), eq(audienceMembers.audience, name))),
    db.delete(audiences).where(audienceIs(projectId, name)).returning({ generation: audiences.generation }),
  ]);
  const row = deleted[0];
  if (!row) return false;
  // Only up to the highest generation seen now: an audience created again under this name starts above it.
  const last = Math.max(row.generation, highest[0]?.generation ?? -1);
  await deleteGenerations(db, projectId, name, sql`generation <= ${last}`);
  return true;
}
