import { lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { events } from "./db/schema";
import { startPurge } from "./purge/purge";

/** How long D1 keeps landed events: long enough to re-run any daily export of the last quarter. */
export const EVENT_RETENTION_DAYS = 90;

/** Deletes landed events older than the retention window. */
export async function pruneEvents(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - EVENT_RETENTION_DAYS * 86_400_000).toISOString();
  const result = await drizzle(env.DB).delete(events).where(lt(events.time, cutoff));
  return result.meta.changes;
}

type Job = (env: Env, now: Date) => Promise<unknown>;

/** Queues the inactive-profile purge as of the cron's own time; the privacy queue does the work in pages. */
export async function purgeInactiveProfiles(env: Env, now: Date): Promise<string> {
  return startPurge(env, { asOf: now, dryRun: false, origin: "cron" });
}

/** Cron expression (as in wrangler.toml) → the jobs it runs. */
const JOBS: Record<string, Job[]> = {
  "30 3 * * *": [pruneEvents, purgeInactiveProfiles],
};

export async function runScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const jobs = JOBS[controller.cron];
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "no job for cron", cron: controller.cron }));
    return;
  }
  const now = new Date(controller.scheduledTime);
  for (const job of jobs) {
    const result = await job(env, now);
    console.log(JSON.stringify({ level: "info", msg: "scheduled job done", job: job.name, result }));
  }
}
