import { readByProfile } from "../db/fan-out";
import { projectionFor } from "../db/shards";
import { chunkBy } from "../lib/chunk";

/** Profile IDs a query binds at once: one JSON parameter, far under D1's 2 MB a value. */
const IDS_PER_QUERY = 5000;

/**
 * The profiles among `profileIds` that exports may show: present in the projection and not
 * orphaned. A removed profile is gone from the projection, so its events (even staged ones the
 * privacy remove has not reached yet) stay out of every file.
 */
export async function liveProfiles(env: Env, projectId: string, profileIds: string[]): Promise<Set<string>> {
  const live = new Set<string>();
  const projection = await projectionFor(env, projectId);
  for (const ids of chunkBy(profileIds, IDS_PER_QUERY, Number.POSITIVE_INFINITY, () => 0)) {
    const found = await readByProfile(projection, ids, async (shard, mine) => {
      const { results } = await shard.d1
        .prepare(
          `SELECT profile_id FROM profiles
        WHERE project_id = ? AND state = 'active' AND profile_id IN (SELECT value FROM json_each(?))`,
        )
        .bind(projectId, JSON.stringify(mine))
        .all<{ profile_id: string }>();
      return results;
    });
    for (const r of found) live.add(r.profile_id);
  }
  return live;
}
