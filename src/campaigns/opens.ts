import type { EventQueueItem } from "../queue/messages";

/**
 * Counts opens for campaign stats: each `push_opened` carrying a campaign token of the event's
 * own project adds its installation (or profile) once, however often it is reported or the
 * queue message redelivered. Called by the event consumer (src/events/events.consumer.ts).
 */
export async function recordCampaignOpens(env: Env, bodies: EventQueueItem[]): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (const b of bodies) {
    if (b.type !== "events") continue;
    for (const e of b.events) {
      const token = e.name === "push_opened" ? e.attributes.campaign_token : undefined;
      if (typeof token !== "string" || !token) continue;
      statements.push(
        env.DB.prepare(
          `INSERT INTO campaign_opens (token, opener)
           SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM campaigns WHERE token = ?1 AND project_id = ?3)
           ON CONFLICT (token, opener) DO NOTHING`,
        ).bind(token, b.installation_id ?? `profile:${b.profile_id}`, b.project_id),
      );
    }
  }
  for (let k = 0; k < statements.length; k += 50) await env.DB.batch(statements.slice(k, k + 50));
}
