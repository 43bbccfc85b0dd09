import { retryLater } from "../queue/retry";
import { runHour, runMerge, startDaily, writeFile } from "./daily";
import type { ExportMessage } from "./exports.messages";
import { failProfilesExport, runProfilesExport } from "./profiles-export";

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
 * A piece that failed every retry. An on-demand export is marked failed on its request; a daily
 * piece is logged with what to re-run (`POST /v1/admin/jobs/daily_exports` with its date).
 */
export async function consumeDeadExports(batch: MessageBatch<ExportMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    if (m.body.type === "profiles_export") {
      await failProfilesExport(env, m.body.request_id, "The export could not be written after several attempts.");
    } else {
      console.error(JSON.stringify({ level: "error", msg: "daily export piece dead-lettered", task: m.body }));
    }
    m.ack();
  }
}
