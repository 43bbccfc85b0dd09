import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { selectRows } from "../db/rows";
import {
  audienceMembers,
  audiences,
  installations,
  profileAttributeItems,
  profileAttributes,
  profiles,
} from "../db/schema";
import { positionOf, type Shard } from "../db/shards";
import type { ProjectionMessage } from "../queue/messages";
import { projectSettled } from "./project";

/*
 * A project's projection rebuilt on another shard, a bounded page at a time: the first step of
 * a move (SPEC §11). Profiles and installations are read again from the Durable Objects that
 * hold them (the source of truth), through the projection's own version-guarded statements, so
 * a replay and the projection's ordinary writes to the same shard can run in any order. What
 * the objects no longer hold comes from the old shard's rows: a removed profile's tombstone,
 * and audiences (D1 is their only home).
 */

/** Rows a page reads: each page is one bounded queue message's work. */
export const replayPaging = { profiles: 100, installations: 100, members: 2000 };

/** Where a replay stands: the step, and the last key it finished (null: from the start). */
export type ReplayCursor =
  | { step: "profiles"; after: string | null }
  | { step: "installations"; after: string | null }
  | { step: "audiences"; after: [string, string] | null };

type Statement = BatchItem<"sqlite">;

/**
 * The new placement of a replay: the shards by position. A profile goes to `fnv1a(profile_id)`
 * mod k; audiences to each shard (every shard of a placement holds a whole copy of them).
 */
export type Target = readonly Shard[];

const targetOf = (to: Target, profileId: string) => to[positionOf(profileId, to.length)] as Shard;

/** The messages that make the objects report a page of profiles; tombstones copied as they are. */
async function profilesPage(projectId: string, from: Shard, to: Target, after: string | null) {
  const rows = await from.db
    .select()
    .from(profiles)
    .where(and(eq(profiles.projectId, projectId), after === null ? undefined : gt(profiles.profileId, after)))
    .orderBy(asc(profiles.profileId))
    .limit(replayPaging.profiles);
  const messages: ProjectionMessage[] = [];
  // A profile whose new shard is the one it is on already has its rows there, kept current by the writes.
  const moving = rows.filter((r) => targetOf(to, r.profileId).name !== from.name);
  const tombstones = moving.filter((r) => r.state === "removed");
  for (const r of moving) {
    if (r.state === "removed") continue;
    let holder: { kind: "custom_id" | "installation"; id: string } | null = null;
    if (r.holderKind && r.holderId) holder = { kind: r.holderKind, id: r.holderId };
    else if (r.customId) holder = { kind: "custom_id", id: r.customId };
    else {
      // A row from before holders were recorded: its installation holds it.
      const i = await from.db
        .select({ id: installations.installationId })
        .from(installations)
        .where(and(eq(installations.projectId, projectId), eq(installations.profileId, r.profileId)))
        .get();
      if (i) holder = { kind: "installation", id: i.id };
    }
    if (holder) {
      messages.push({
        type: "profile_changed",
        project_id: projectId,
        profile_id: r.profileId,
        holder: { projectId, ...holder },
      });
    }
  }
  for (const [name, group] of Map.groupBy(tombstones, (t) => targetOf(to, t.profileId).name)) {
    await copyTombstones(projectId, to.find((s) => s.name === name) as Shard, group);
  }
  return { messages, last: rows.at(-1)?.profileId ?? null, full: rows.length === replayPaging.profiles };
}

/** Tombstones written as they are on their new shard, with whatever rows of theirs it still held. */
async function copyTombstones(projectId: string, to: Shard, tombstones: (typeof profiles.$inferSelect)[]) {
  const ids = JSON.stringify(tombstones.map((t) => t.profileId));
  const mine = (column: Parameters<typeof sql>[1]) => sql`${column} IN (SELECT value FROM json_each(${ids}))`;
  const statements: Statement[] = [
    to.db
      .insert(profiles)
      .select(selectRows(profiles, tombstones))
      .onConflictDoUpdate({
        target: [profiles.projectId, profiles.profileId],
        set: { customId: null, state: "removed", version: sql`excluded.version` },
      }),
    to.db
      .delete(profileAttributes)
      .where(and(eq(profileAttributes.projectId, projectId), mine(profileAttributes.profileId))),
    to.db
      .delete(profileAttributeItems)
      .where(and(eq(profileAttributeItems.projectId, projectId), mine(profileAttributeItems.profileId))),
    to.db.delete(installations).where(and(eq(installations.projectId, projectId), mine(installations.profileId))),
  ];
  await to.db.batch(statements as [Statement, ...Statement[]]);
}

async function installationsPage(projectId: string, from: Shard, to: Target, after: string | null) {
  const rows = await from.db
    .select({ id: installations.installationId, profileId: installations.profileId })
    .from(installations)
    .where(
      and(eq(installations.projectId, projectId), after === null ? undefined : gt(installations.installationId, after)),
    )
    .orderBy(asc(installations.installationId))
    .limit(replayPaging.installations);
  const messages: ProjectionMessage[] = rows
    .filter((r) => targetOf(to, r.profileId).name !== from.name)
    .map((r) => ({ type: "installation_changed", project_id: projectId, installation_id: r.id }));
  return { messages, last: rows.at(-1)?.id ?? null, full: rows.length === replayPaging.installations };
}

/**
 * Audiences and their current generation's members, copied row by row (the objects do not hold
 * them), a page of members at a time in (audience, member) order. An audience row is written
 * with its first page, the same row again with each later one.
 */
async function audiencesPage(projectId: string, from: Shard, to: readonly Shard[], after: [string, string] | null) {
  // Every shard of a placement holds a whole copy: nothing to copy when each target has one.
  if (!to.length) return { last: null, full: false };
  const rows = await from.d1
    .prepare(
      `SELECT m.audience, m.generation, m.member FROM audience_members m
         JOIN audiences a ON a.project_id = m.project_id AND a.name = m.audience AND a.generation = m.generation
        WHERE m.project_id = ?1 AND (m.audience, m.member) > (?2, ?3)
        ORDER BY m.audience, m.member LIMIT ?4`,
    )
    .bind(projectId, after?.[0] ?? "", after?.[1] ?? "", replayPaging.members)
    .all<{ audience: string; generation: number; member: string }>();
  const members = rows.results;
  const last = members.at(-1);
  const full = members.length === replayPaging.members;
  // Audiences up to the page's last one (all that remain when it is the last page), empty ones too.
  const upTo = full && last ? last.audience : null;
  const heads = await from.db
    .select()
    .from(audiences)
    .where(
      and(
        eq(audiences.projectId, projectId),
        after === null ? undefined : sql`${audiences.name} >= ${after[0]}`,
        upTo === null ? undefined : sql`${audiences.name} <= ${upTo}`,
      ),
    );
  for (const target of to) {
    const statements: Statement[] = [];
    if (heads.length) {
      statements.push(
        target.db
          .insert(audiences)
          .select(selectRows(audiences, heads))
          .onConflictDoUpdate({
            target: [audiences.projectId, audiences.name],
            set: {
              type: sql`excluded.type`,
              description: sql`excluded.description`,
              size: sql`excluded.size`,
              generation: sql`excluded.generation`,
              updatedAt: sql`excluded.updated_at`,
            },
          }),
      );
    }
    if (members.length) {
      statements.push(
        target.db
          .insert(audienceMembers)
          .select(
            selectRows(
              audienceMembers,
              members.map((m) => ({ projectId, ...m })),
            ),
          )
          .onConflictDoNothing(),
      );
    }
    if (statements.length) await target.db.batch(statements as [Statement, ...Statement[]]);
  }
  return { last: last ? ([last.audience, last.member] as [string, string]) : null, full };
}

/**
 * Replays one page of `projectId`'s rows on `from` (one shard of its old placement) into `to`
 * (a shard, or the new placement's shards by position) and returns where the next page starts,
 * or null when the replay of `from` is complete. Every page is idempotent: a page run again
 * writes the same rows (or newer ones), so a replay that stopped part-way resumes from its last
 * cursor. Throws when a subject could not be read from its object: the page must run again.
 * Audiences are copied to `audiencesTo`: the target shards that do not hold a copy yet.
 */
export async function replayPage(
  env: Env,
  projectId: string,
  from: Shard,
  to: Shard | Target,
  cursor: ReplayCursor = { step: "profiles", after: null },
  audiencesTo: readonly Shard[] = ("d1" in to ? [to] : to).filter((s) => s.name !== from.name),
): Promise<ReplayCursor | null> {
  const target: Target = "d1" in to ? [to] : to;
  if (cursor.step === "audiences") {
    const page = await audiencesPage(projectId, from, audiencesTo, cursor.after);
    return page.full ? { step: "audiences", after: page.last } : null;
  }
  const page =
    cursor.step === "profiles"
      ? await profilesPage(projectId, from, target, cursor.after)
      : await installationsPage(projectId, from, target, cursor.after);
  const failed = await projectSettled(env, page.messages, (profileId) => targetOf(target, profileId));
  const [first] = failed.values();
  if (failed.size) throw first;
  if (page.full) return { step: cursor.step, after: page.last };
  return cursor.step === "profiles" ? { step: "installations", after: null } : { step: "audiences", after: null };
}
