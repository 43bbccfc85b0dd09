import { and, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { onEachShard, readByProfile } from "../db/fan-out";
import { selectRows } from "../db/rows";
import {
  audienceMembers,
  audiences,
  installations,
  profileAttributeItems,
  profileAttributes,
  profiles,
} from "../db/schema";
import { projectionFor, UnplacedProjectError } from "../db/shards";

type Statement = BatchItem<"sqlite">;

/**
 * A tombstone's version: above any version an object can reach, so the projection's
 * `excluded.version > version` guard refuses every late message for a removed profile.
 */
export const TOMBSTONE_VERSION = Number.MAX_SAFE_INTEGER;

/** What one removal deletes from D1. */
export interface D1Subject {
  projectId: string;
  /** The removed profile and the orphans its objects kept. */
  profileIds: string[];
  installationIds: string[];
  customId: string | null;
}

export type D1Counts = Record<"profiles" | "profile_attributes" | "installations" | "audience_members", number>;

const ids = (values: string[]) => JSON.stringify(values);

function inJson(column: Parameters<typeof sql>[1], values: string[]) {
  return sql`${column} IN (SELECT value FROM json_each(${ids(values)}))`;
}

/** Audience members naming the subject's identifiers, in audiences of the matching type. */
function memberMatch(s: D1Subject) {
  const byType = (type: "custom_ids" | "installation_ids", members: string[]) =>
    sql`(${inJson(audienceMembers.member, members)} AND ${audienceMembers.audience} IN (
      SELECT ${audiences.name} FROM ${audiences} WHERE ${audiences.projectId} = ${s.projectId} AND ${audiences.type} = ${type}))`;
  return and(
    eq(audienceMembers.projectId, s.projectId),
    sql`(${byType("custom_ids", s.customId === null ? [] : [s.customId])} OR ${byType("installation_ids", s.installationIds)})`,
  );
}

function installationMatch(s: D1Subject) {
  return and(
    eq(installations.projectId, s.projectId),
    sql`(${inJson(installations.profileId, s.profileIds)} OR ${inJson(installations.installationId, s.installationIds)})`,
  );
}

/** How many rows of each table the removal will delete (profile rows: those not yet tombstoned). */
export async function countD1(env: Env, s: D1Subject): Promise<D1Counts> {
  // Every shard of the project: profile rows are on one, audience members on each (a copy each).
  const perShard = await onEachShard(await projectionFor(env, s.projectId), (shard) => countOn(shard.db, s));
  const sum = (k: keyof D1Counts) => perShard.reduce((n, c) => n + c[k], 0);
  return {
    profiles: sum("profiles"),
    profile_attributes: sum("profile_attributes"),
    installations: sum("installations"),
    audience_members: sum("audience_members"),
  };
}

async function countOn(db: DrizzleD1Database, s: D1Subject): Promise<D1Counts> {
  const count = sql<number>`count(*)`;
  const [p, a, i, m] = await db.batch([
    db
      .select({ n: count })
      .from(profiles)
      .where(
        and(
          eq(profiles.projectId, s.projectId),
          inJson(profiles.profileId, s.profileIds),
          sql`${profiles.state} <> 'removed'`,
        ),
      ),
    db
      .select({ n: count })
      .from(profileAttributes)
      .where(and(eq(profileAttributes.projectId, s.projectId), inJson(profileAttributes.profileId, s.profileIds))),
    db.select({ n: count }).from(installations).where(installationMatch(s)),
    db.select({ n: count }).from(audienceMembers).where(memberMatch(s)),
  ]);
  return {
    profiles: p[0]?.n ?? 0,
    profile_attributes: a[0]?.n ?? 0,
    installations: i[0]?.n ?? 0,
    audience_members: m[0]?.n ?? 0,
  };
}

/**
 * Deletes the subject from its projection shard in one transaction and leaves a tombstone per
 * profile: the projection row becomes `removed`, without custom ID, at {@link TOMBSTONE_VERSION}.
 * `records` (the step's receipt, control tables on `DB`) commit first, in their own transaction:
 * the shard is another database. A retry that finds them runs the erase again
 * ({@link isTombstoned}); the erase is idempotent.
 */
export async function eraseD1(env: Env, s: D1Subject, at: string, records: Statement[] = []): Promise<void> {
  const [firstRecord, ...restRecords] = records;
  if (firstRecord) await drizzle(env.DB).batch([firstRecord, ...restRecords]);
  // Every shard a write of the project lands on (all of its shards, and both placements while
  // it moves): audience copies are on each, and a subject's profiles may hash to different
  // shards. A tombstone goes only where its profile's rows go.
  const projection = await projectionFor(env, s.projectId);
  for (const target of projection.writeShards) {
    const tombstoned = s.profileIds.filter((id) => projection.writesFor(id).some((w) => w.name === target.name));
    await eraseOn(target.db, s, tombstoned, at);
  }
}

/** Erases the subject's rows on one shard, with tombstones for `tombstoned`: its profiles this shard holds. */
async function eraseOn(db: DrizzleD1Database, s: D1Subject, tombstoned: string[], at: string): Promise<void> {
  const tombstones = tombstoned.map((profileId) => ({
    projectId: s.projectId,
    profileId,
    customId: null,
    state: "removed" as const,
    version: TOMBSTONE_VERSION,
    createdAt: at,
    lastActivityAt: at,
  }));
  const affectedAudiences = db
    .selectDistinct({ name: audienceMembers.audience })
    .from(audienceMembers)
    .where(memberMatch(s));
  const statements: Statement[] = [
    db
      .insert(profiles)
      .select(selectRows(profiles, tombstones))
      .onConflictDoUpdate({
        target: [profiles.projectId, profiles.profileId],
        set: {
          customId: null,
          state: "removed",
          version: TOMBSTONE_VERSION,
          lastActivityAt: sql`excluded.last_activity_at`,
        },
      }),
    db
      .delete(profileAttributes)
      .where(and(eq(profileAttributes.projectId, s.projectId), inJson(profileAttributes.profileId, s.profileIds))),
    db
      .delete(profileAttributeItems)
      .where(
        and(eq(profileAttributeItems.projectId, s.projectId), inJson(profileAttributeItems.profileId, s.profileIds)),
      ),
    db.delete(installations).where(installationMatch(s)),
    // Sizes first, from the members that stay, then the members themselves.
    db
      .update(audiences)
      .set({
        size: sql`(SELECT count(*) FROM ${audienceMembers} m WHERE m.project_id = ${audiences.projectId}
          AND m.audience = ${audiences.name} AND m.generation = ${audiences.generation}
          AND NOT ${inJson(sql.raw("m.member"), s.customId === null ? s.installationIds : [s.customId, ...s.installationIds])})`,
        updatedAt: at,
      })
      .where(and(eq(audiences.projectId, s.projectId), inArray(audiences.name, affectedAudiences))),
    db.delete(audienceMembers).where(memberMatch(s)),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/** Whether every profile of the subject has its tombstone: {@link eraseD1} committed on the shard. */
export async function isTombstoned(env: Env, s: D1Subject): Promise<boolean> {
  if (s.profileIds.length === 0) return true;
  const unique = [...new Set(s.profileIds)];
  // Each tombstone on the shard its profile's rows are on.
  const found = await readByProfile(await projectionFor(env, s.projectId), unique, async (shard, mine) => [
    (
      await shard.db
        .select({ n: sql<number>`count(*)` })
        .from(profiles)
        .where(
          and(eq(profiles.projectId, s.projectId), inJson(profiles.profileId, mine), eq(profiles.state, "removed")),
        )
        .get()
    )?.n ?? 0,
  ]);
  return found.reduce((a, b) => a + b, 0) === unique.length;
}

function removedAmong(keys: { projectId: string; profileId: string }[]) {
  const json = JSON.stringify(keys.map((k) => [k.projectId, k.profileId]));
  return sql`(SELECT p.project_id, p.profile_id FROM ${profiles} p
    WHERE p.state = 'removed' AND (p.project_id, p.profile_id) IN (SELECT value->>'$[0]', value->>'$[1]' FROM json_each(${json})))`;
}

/** Which of these profiles are removed (tombstoned): their late events are not staged. */
export async function removedProfiles(
  env: Env,
  keys: { projectId: string; profileId: string }[],
): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  // One read per project's shard: the keys of a batch of events span projects.
  const byProject = Map.groupBy(keys, (k) => k.projectId);
  const found = await Promise.all(
    [...byProject].map(async ([projectId, mine]) => {
      const projection = await projectionFor(env, projectId).catch((error) => {
        // A project the directory does not place has no projection, so no tombstone.
        if (error instanceof UnplacedProjectError) return null;
        throw error;
      });
      if (!projection) return [];
      // Each profile's tombstone on its own shard: one read per shard that holds some.
      return readByProfile(
        projection,
        mine.map((k) => k.profileId),
        (shard, ids) =>
          shard.db.all<{ project_id: string; profile_id: string }>(
            sql`SELECT p.project_id, p.profile_id FROM ${profiles} p
          WHERE p.state = 'removed' AND p.project_id = ${projectId} AND p.profile_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
          ),
      );
    }),
  );
  return new Set(found.flat().map((r) => `${r.project_id}/${r.profile_id}`));
}

/** An installation projected, after the removal, onto a removed profile. */
export function sweepRemovedInstallations(
  db: DrizzleD1Database,
  keys: { projectId: string; profileId: string }[],
): Statement[] {
  if (keys.length === 0) return [];
  return [
    db
      .delete(installations)
      .where(sql`(${installations.projectId}, ${installations.profileId}) IN ${removedAmong(keys)}`),
  ];
}
