import { uuidv7 } from "../lib/ids";
import { previousUtcDay, sendAll } from "./daily";

/** Queues a run of the daily exports of `date` (every project, or one); returns at once. */
export async function startDailyExports(env: Env, date: string, job: string, projectId?: string): Promise<void> {
  await sendAll(env, [{ type: "daily_start", job, date, ...(projectId ? { project_id: projectId } : {}) }]);
}

/** The 02:00 UTC cron: yesterday's files for every app. */
export async function dailyExports(env: Env, now: Date): Promise<{ job: string; date: string }> {
  const job = uuidv7(now.getTime());
  const date = previousUtcDay(now);
  await startDailyExports(env, date, job);
  return { job, date };
}
