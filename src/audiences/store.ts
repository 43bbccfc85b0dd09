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
 * Audience API (src/batch/audiences.handlers.ts). Each takes the projection's database, so the
 * choice of database stays with the caller.
 */

/** A refused list lists at most this many problems. */
export const MAX_ISSUES = 100;

const audienceIs = (projectId: string, name: string) =>
  and(eq(audiences.projectId, projectId), eq(audiences.name, name));

/**
 * The project's shard for an audience change. Refused (409, retry later) while the project
 * moves: a move copies audiences rather than replaying them, so a change made on the old shard
 * after the copy would be lost.
 */
export async function audienceWriteDb(env: Env, projectId: string): Promise<DrizzleD1Database> {
  const projection = await projectionFor(env, projectId);
  if (projection.moving) {
    throw new ApiError("CONFLICT", "This project's data is moving to another shard: retry the audience change later.", {
      headers: { "Retry-After": "60" },
    });
  }
  return projection.one().db;
}

export const audienceNotFound = (name: string) => new ApiError("NOT_FOUND", `No audience "${name}".`);

/** The audience, or 404. */
export async function findAudience(db: DrizzleD1Database, projectId: string, name: string): Promise<AudienceRow> {
  const row = await db.select().from(audiences).where(audienceIs(projectId, name)).get();
  if (!row) throw audienceNotFound(name);
  return row;
}

/** Creates an empty audience; null when one of that name exists. */
export async function createAudienceRow(
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
  db: DrizzleD1Database,
  projectId: string,
  page: { after?: string; limit?: number } = {},
): Promise<AudienceRow[]> {
  const where =
    page.after === undefined
      ? eq(audiences.projectId, projectId)
      : and(eq(audiences.projectId, projectId), gt(audiences.name, page.after));
  const query = db.select().from(audiences).where(where).orderBy(asc(audiences.name));
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
 * Writes a new generation with `write` and makes it the members; on any failure the new
 * generation's rows are deleted and the members stay as they were.
 */
export async function replaceAudienceMembers(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  write: (writer: GenerationWriter, type: AudienceType) => Promise<void>,
  onCleanupError: (error: unknown) => void = () => {},
): Promise<AudienceRow> {
  // Claimed before anything is read, so an unknown audience is refused without reading it.
  const claim = await claimGeneration(db, projectId, name);
  if (!claim) throw audienceNotFound(name);
  const writer = new GenerationWriter(db, projectId, name, claim.generation);
  try {
    await write(writer, claim.audience.type);
  } catch (error) {
    try {
      // No batch of this generation may land after its rows are deleted.
      await writer.settle();
      await deleteGenerations(db, projectId, name, sql`generation = ${claim.generation}`);
    } catch (cleanup) {
      // The rows left are of a generation that never becomes current; the next replace deletes them.
      onCleanupError(cleanup);
    }
    throw error;
  }
  // Not in the cleanup above: if the switch failed after D1 applied it, the new rows are the members.
  return commitGeneration(db, projectId, name, claim.audience.generation, claim.generation);
}

/** Replaces the members with checked IDs (stored forms), already in memory. */
export function replaceWithMembers(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  members: readonly string[],
  onCleanupError?: (error: unknown) => void,
): Promise<AudienceRow> {
  return replaceAudienceMembers(
    db,
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
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<AudienceRow> {
  const audience = await patchMembers(db, projectId, name, add, remove);
  if (!audience) throw audienceNotFound(name);
  return audience;
}

/** Deletes an audience and its members; 404 when it does not exist. */
export async function deleteAudienceRow(db: DrizzleD1Database, projectId: string, name: string): Promise<void> {
  const [highest, deleted] = await db.batch([
    db
      .select({ generation: sql<number | null>`max(${audienceMembers.generation})` })
      .from(audienceMembers)
      .where(and(eq(audienceMembers.projectId, projectId), eq(audienceMembers.audience, name))),
    db.delete(audiences).where(audienceIs(projectId, name)).returning({ generation: audiences.generation }),
  ]);
  const row = deleted[0];
  if (!row) throw audienceNotFound(name);
  // Only up to the highest generation seen now: an audience created again under this name starts above it.
  const last = Math.max(row.generation, highest[0]?.generation ?? -1);
  await deleteGenerations(db, projectId, name, sql`generation <= ${last}`);
}
