import { retryDelaySeconds } from "../queue/consumer";
import { runHour, startDaily, writeFile } from "./daily";
import type { ExportMessage } from "./exports.messages";
import { failProfilesExport, runProfilesExport } from "./profiles-export";

export const EXPORTS_QUEUE = "edge-cdp-exports";
/** As `max_retries` of the exports queue in wrangler.toml: the last attempt records a failure. */
const MAX_ATTEMPTS = 6;

async function handle(env: Env, body: ExportMessage): Promise<void> {
  switch (body.type) {
    case "daily_start":
      return startDaily(env, body);
    case "daily_hour":
      return runHour(env, body);
    case "daily_file":
      await writeFile(env, body);
      return;
    case "profiles_export":
      return runProfilesExport(env, body);
  }
}

/** Each message is one bounded piece of an export; each retries on its own. */
export async function consumeExports(batch: MessageBatch<ExportMessage>, env: Env): Promise<void> {
  for (const m of batch.messages) {
    try {
      await handle(env, m.body);
      m.ack();
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "export task failed",
          type: m.body.type,
          id: m.id,
          error: String(error),
        }),
      );
      if (m.body.type === "profiles_export" && m.attempts >= MAX_ATTEMPTS) {
        await failProfilesExport(env, m.body.request_id, "The export could not be written after several attempts.");
        m.ack();
      } else {
        m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
      }
    }
  }
}
