import type { CustomIdsChanged } from "../queue/messages";

/*
 * The checks a synchronous update queues before it applies (src/profiles/apply-projected.ts):
 * one row in `projected_checks` per check message once the update wrote its profiles to D1
 * itself, and the projection consumer's look-up of those rows.
 */

/**
 * Says the update wrote its profiles: its checks will read nothing. Each check message names
 * one row (a few per update at most: one per 64 KB of custom IDs).
 */
export async function recordProjected(env: Env, checks: CustomIdsChanged[]): Promise<void> {
  if (checks.length === 0) return;
  const at = new Date().toISOString();
  await env.DB.batch(
    checks.map((m) =>
      env.DB.prepare("INSERT OR IGNORE INTO projected_checks (check_id, created_at) VALUES (?, ?)").bind(
        m.check_id,
        at,
      ),
    ),
  );
}

/**
 * The checks of updates that wrote their profiles themselves, told apart and forgotten: those
 * messages name no custom ID any more. A retried batch finds no row and reads the objects: the
 * projection's writes are version-guarded, so reading again is only a cost.
 */
export async function dropProjectedChecks<M extends { type: string }>(env: Env, messages: M[]): Promise<M[]> {
  const checks = messages.filter((m): m is M & CustomIdsChanged => m.type === "custom_ids_changed");
  if (checks.length === 0) return messages;
  // A batch holds at most 100 messages: within a statement's 100 bound parameters.
  const ids = checks.map((m) => m.check_id);
  const { results } = await env.DB.prepare(
    `DELETE FROM projected_checks WHERE check_id IN (${ids.map(() => "?").join(", ")}) RETURNING check_id`,
  )
    .bind(...ids)
    .all<{ check_id: string }>();
  const done = new Set(results.map((r) => r.check_id));
  return messages.map((m) =>
    m.type === "custom_ids_changed" && done.has((m as M & CustomIdsChanged).check_id) ? { ...m, custom_ids: [] } : m,
  );
}

/** A row this old was written after its check had run: no check will delete it. */
const LEFT_AFTER_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per statement, and statements per run: bounded work for the daily cron. */
const LEFT_PAGE = 1000;
const LEFT_PAGES = 10;

/**
 * Deletes the rows their checks will never find: an update whose objects took longer than the
 * check's delay wrote its row after the check had run and read the objects. Daily (src/scheduled.ts);
 * returns how many rows went.
 */
export async function forgetLeftChecks(env: Env, now: Date): Promise<number> {
  const before = new Date(now.getTime() - LEFT_AFTER_MS).toISOString();
  let gone = 0;
  for (let page = 0; page < LEFT_PAGES; page++) {
    const { meta } = await env.DB.prepare(
      `DELETE FROM projected_checks WHERE check_id IN (
         SELECT check_id FROM projected_checks WHERE created_at < ? LIMIT ${LEFT_PAGE})`,
    )
      .bind(before)
      .run();
    gone += meta.changes;
    if (meta.changes < LEFT_PAGE) break;
  }
  return gone;
}
