import { sweepAudienceInbox } from "./audiences/feeds";
import { startDueCampaigns } from "./campaigns/schedule";
import { dailyExports } from "./exports/jobs";
import { expireExportCopies } from "./exports/retention";
import { drainStuckOutbox } from "./privacy/store";
import { forgetLeftChecks } from "./projection/checks";
import { startPurge } from "./purge/purge";

type Job = (env: Env, now: Date) => Promise<unknown>;

/** Queues the inactive-profile purge as of the cron's own time; the privacy queue does the work in pages. */
export async function purgeInactiveProfiles(env: Env, now: Date): Promise<string> {
  return startPurge(env, { asOf: now, dryRun: false, origin: "cron" });
}

/** Cron expression (as in wrangler.toml) → the jobs it runs. */
const JOBS: Record<string, Job[]> = {
  "0 2 * * *": [dailyExports, expireExportCopies],
  "30 3 * * *": [purgeInactiveProfiles, forgetLeftChecks],
  "*/5 * * * *": [sweepAudienceInbox, drainStuckOutbox, startDueCampaigns],
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
