import type { Projection, Shard } from "./shards";

/*
 * Reads over a project's shards (SPEC §11). A project on one shard is a split project with k = 1,
 * so readers call these whatever the project's placement: none of them asks "split or not".
 * Profile rows (profiles, attributes, installations) sit on `forProfile(profile_id)`; audiences
 * are copied whole onto every shard of the project (docs/decisions.md, "Projection shards:
 * split projects"), so the first shard answers for them and a segment joins them in place.
 */

/** Runs `read` on every shard of the project at once; the answers in shard order. */
export function onEachShard<T>(projection: Projection, read: (shard: Shard) => Promise<T>): Promise<T[]> {
  return Promise.all(projection.shards.map(read));
}

/** A count over the whole project: each shard's count, taken side by side, added up. */
export async function countAcross(projection: Projection, count: (shard: Shard) => Promise<number>): Promise<number> {
  return (await onEachShard(projection, count)).reduce((sum, n) => sum + n, 0);
}

/**
 * The first `limit` rows of the project in `compare` order: each shard is asked for its own
 * first `limit` after the same cursor (`read` applies it), and the answers merged. Whatever a
 * shard holds beyond its first `limit` cannot be among the first `limit` of all.
 */
export async function mergeAcross<T>(
  projection: Projection,
  limit: number,
  read: (shard: Shard, limit: number) => Promise<T[]>,
  compare: (a: T, b: T) => number,
): Promise<T[]> {
  const pages = await onEachShard(projection, (s) => read(s, limit));
  if (pages.length === 1) return (pages[0] as T[]).slice(0, limit);
  return pages.flat().sort(compare).slice(0, limit);
}

/** Text order as SQLite's BINARY collation compares it (profile IDs are ASCII). */
export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** {@link mergeAcross} in `profile_id` order, the order of every cursor over profiles. */
export function pageByProfile<T extends { profile_id: string } | { profileId: string }>(
  projection: Projection,
  limit: number,
  read: (shard: Shard, limit: number) => Promise<T[]>,
): Promise<T[]> {
  const id = (row: T) => ("profile_id" in row ? row.profile_id : row.profileId);
  return mergeAcross(projection, limit, read, (a, b) => byText(id(a), id(b)));
}

/** `profileIds` grouped by the shard that holds each, with the shard (only shards that hold some). */
export function byShard(projection: Projection, profileIds: readonly string[]): { shard: Shard; ids: string[] }[] {
  const groups = new Map<string, { shard: Shard; ids: string[] }>();
  for (const id of profileIds) {
    const shard = projection.forProfile(id);
    const group = groups.get(shard.name);
    if (group) group.ids.push(id);
    else groups.set(shard.name, { shard, ids: [id] });
  }
  return [...groups.values()];
}

/** Runs `read` on each shard for the profiles it holds, side by side; the answers concatenated. */
export async function readByProfile<T>(
  projection: Projection,
  profileIds: readonly string[],
  read: (shard: Shard, ids: string[]) => Promise<T[]>,
): Promise<T[]> {
  return (await Promise.all(byShard(projection, profileIds).map((g) => read(g.shard, g.ids)))).flat();
}

/** The first answer on any shard that is not undefined (shards asked side by side), else undefined. */
export async function findAcross<T>(
  projection: Projection,
  read: (shard: Shard) => Promise<T | undefined>,
): Promise<{ shard: Shard; found: T } | undefined> {
  const answers = await onEachShard(projection, read);
  const k = answers.findIndex((a) => a !== undefined);
  return k < 0 ? undefined : { shard: projection.shards[k] as Shard, found: answers[k] as T };
}

/** The shard that answers for the project's audiences: every shard holds a copy, the first is read. */
export function audienceShard(projection: Projection): Shard {
  const [first] = projection.shards;
  if (!first) throw new Error(`Project ${projection.projectId} has no shard.`);
  return first;
}
