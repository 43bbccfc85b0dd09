import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* Daily export files and the hours they were staged from: control database. */

/**
 * The daily export files written so far, one row per file: what `GET /v1/exports` lists
 * without reading R2. `job` is the run that wrote the file (a redelivered message of that run
 * finds its row and does not write again).
 */
export const exportFiles = sqliteTable(
  "export_files",
  {
    projectId: text("project_id").notNull(),
    appId: text("app_id").notNull(),
    kind: text("kind").notNull(),
    date: text("date").notNull(),
    rows: integer("rows").notNull(),
    bytes: integer("bytes").notNull(),
    sha256: text("sha256").notNull(),
    job: text("job").notNull(),
    writtenAt: text("written_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.appId, t.kind, t.date] }),
    index("export_files_date_idx").on(t.projectId, t.date),
  ],
);

/** Hours of a daily export run that are sorted and staged; the 24th starts the files. */
export const exportHours = sqliteTable(
  "export_hours",
  {
    job: text("job").notNull(),
    appId: text("app_id").notNull(),
    hour: integer("hour").notNull(),
  },
  (t) => [primaryKey({ columns: [t.job, t.appId, t.hour] })],
);
