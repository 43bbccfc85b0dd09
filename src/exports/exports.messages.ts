import type { DailyKind } from "./files";
import type { SuspendedUpload } from "./upload";

/** Work on the exports queue; each message is a bounded piece (see daily.ts, profiles-export.ts). */
export type ExportMessage =
  /** The rest of a retention run (src/exports/retention.ts) as of the cron's `at`. */
  | { type: "expire_copies"; at: string; work_after: string | null }
  | {
      type: "daily_start";
      job: string;
      date: string;
      /** Only this project's apps (an admin run can name one); all projects when absent. */
      project_id?: string;
      /** Apps after this ID: the next page. */
      after?: string;
    }
  | {
      type: "daily_hour";
      job: string;
      project_id: string;
      app_id: string;
      date: string;
      hour: number;
      /** A busy hour's continuation: the last staged object read, and the sub-runs written. */
      after?: string;
      subs?: number;
    }
  | {
      /** One level of a busy hour's merge (src/exports/hour-runs.ts). */
      type: "daily_merge";
      job: string;
      project_id: string;
      app_id: string;
      date: string;
      hour: number;
      level: number;
      count: number;
    }
  | { type: "daily_file"; job: string; project_id: string; app_id: string; date: string; kind: DailyKind }
  | {
      type: "profiles_export";
      request_id: string;
      project_id: string;
      where: unknown;
      fields: string[];
      /**
       * Where a message of a long export left off: after which profile, its number (its carried
       * bytes are `tail-{part - 1}`), and the multipart upload so far. About 60 bytes per 8 MiB
       * part: a 10 GB file stays under the 128 KB message limit.
       */
      resume?: { after: string; part: number; upload: SuspendedUpload };
    };
