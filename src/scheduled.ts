import { dailyExports } from "./exports/jobs";

type Job = (env: Env, now: Date) => Promise<unknown>;

/** Cron expression (as in wrangler.toml) → the jobs it runs. */
const JOBS: Record<string, Job[]> = {
  "0 2 * * *": [dailyExports],
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
