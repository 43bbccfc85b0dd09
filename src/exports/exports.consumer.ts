import { type DeadLetterEnd, endDeadLetters } from "../dead-letters/record";
import { retryLater } from "../queue/retry";
import { runHour, runMerge, startDaily, writeFile } from "./daily";
import type { ExportMessage } from "./exports.messages";
import { failProfilesExport, runProfilesExport } from "./profiles-export";
import { expireExportCopies } from "./retention";

export const EXPORTS_QUEUE = "edge-cdp-exports";
export const EXPORTS_DLQ = "edge-cdp-exports-dlq";

async function handle(env: Env, body: ExportMessage): Promise<void> {
  switch (body.type) {
    case "daily_start":
      return startDaily(env, body);
    case "daily_hour":
      return runHour(env, body);
    case "daily_merge":
      return runMerge(env, body);
    case "daily_file":
      await writeFile(env, body);
      return;
    case "profiles_export":
      return runProfilesExport(env, body);
    case "expire_copies":
      await expireExportCopies(env, new Date(body.at), { work_after: body.work_after });
      return;
  }
}

/** Each message is one bounded piece of an export, retried on its own. */
export async function consumeExports(batch: MessageBatch<ExportMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      await handle(env, m.body);
      m.ack();
    } catch (error) {
      retryLater(m, `export task ${m.body.type} failed`, error);
    }
  }
}

/**
 * A piece that failed every retry, recorded for `GET /v1/admin/dead-letters`. An on-demand
 * export ends `failed` on its request (its upload abandoned); a daily run has no status of its
 * own: its dead letter says what to re-run (`POST /v1/admin/jobs/daily_exports` with the date).
 */
export async function consumeDeadExports(batch: MessageBatch<ExportMessage>, env: Env): Promise<void> {
  await endDeadLetters(batch, env, async (m): Promise<DeadLetterEnd> => {
    if (m.body.type === "profiles_export") {
      await failProfilesExport(env, m.body, "The export could not be written after several attempts.");
      return { outcome: "recorded", reason: "profile export failed every retry" };
    }
    if (m.body.type === "expire_copies") {
      return { outcome: "recorded", reason: "retention run failed every retry; the next daily cron goes on" };
    }
    return { outcome: "recorded", reason: `daily export ${m.body.type} failed every retry; re-run its date` };
  });
}
