import type { RouteHandler } from "@hono/zod-openapi";
import { audienceShard } from "../db/fan-out";
import { projectionFor } from "../db/shards";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { CsvError, readCsvColumnBatches } from "../lib/csv";
import { ApiError, type ErrorIssue } from "../lib/errors";
import { limitBytes } from "../lib/stream-limit";
import type * as routes from "./audiences.routes";
import { MAX_CSV_IDS } from "./audiences.routes";
import { csvTooLarge, MAX_CSV_BODY, memberBodyKind } from "./content-type";
import { type AudienceRow, type AudienceType, checkMember } from "./members";
import {
  audienceWriteDb,
  type CopiesWriter,
  checkIds,
  createAudienceRow,
  deleteAudienceRow,
  findAudience,
  listAudienceRows,
  MAX_ISSUES,
  patchAudienceMembers,
  replaceAudienceMembers,
} from "./store";

/** A first CSV line equal to one of these (any case) is a header, not an ID. */
const CSV_HEADERS = new Set(["id", "custom_id", "installation_id", "custom_user_id"]);
/** Blank lines are skipped but counted: a stream of newlines must end, like any other upload. */
const MAX_CSV_LINES = MAX_CSV_IDS + 100_000;

function view(row: AudienceRow) {
  return {
    name: row.name,
    type: row.type,
    description: row.description,
    size: row.size,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/** The whole body is refused: the first problem in the message, all of them (up to the cap) in `issues`. */
function refused(issues: ErrorIssue[]): ApiError {
  const [first] = issues;
  const listed = issues.length >= MAX_ISSUES ? `the first ${MAX_ISSUES}` : `all ${issues.length}`;
  const more = issues.length > 1 ? ` (${listed} problems are listed in issues)` : "";
  const detail = first ? `${first.path}: ${first.message} ` : "";
  return new ApiError("VALIDATION_FAILED", `${detail}The members were not changed${more}.`, { issues });
}

export const createAudience: RouteHandler<typeof routes.createAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name, type, description } = c.req.valid("json");
  const created = await createAudienceRow(await audienceWriteDb(c.env, projectId), projectId, {
    name,
    type,
    description: description ?? null,
  });
  if (!created) throw new ApiError("CONFLICT", `An audience named "${name}" already exists.`);
  return c.json(view(created), 201);
};

export const listAudiences: RouteHandler<typeof routes.listAudiences, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const rows = await listAudienceRows(audienceShard(await projectionFor(c.env, projectId)).db, projectId);
  return c.json({ audiences: rows.map(view) }, 200);
};

export const getAudience: RouteHandler<typeof routes.getAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  return c.json(
    view(await findAudience(audienceShard(await projectionFor(c.env, projectId)).db, projectId, name)),
    200,
  );
};

/**
 * Reads the CSV and writes its members under the writer's generation as they arrive. After the
 * first problem nothing more is written, but reading goes on to list up to {@link MAX_ISSUES}.
 */
async function writeCsv(
  writer: CopiesWriter,
  type: AudienceType,
  body: ReadableStream<Uint8Array> | null,
): Promise<ErrorIssue[]> {
  const issues: ErrorIssue[] = [];
  let values = 0;
  let ids = 0;
  try {
    const bounded = body ? limitBytes(body, MAX_CSV_BODY, csvTooLarge) : null;
    reading: for await (const lines of bounded ? readCsvColumnBatches(bounded) : []) {
      for (const { line, value } of lines) {
        if (line > MAX_CSV_LINES) {
          issues.push({ path: `line ${line}`, message: `More than ${MAX_CSV_LINES} lines, blank ones included.` });
          break reading;
        }
        if (value === null) continue;
        if (++values === 1 && CSV_HEADERS.has(value.toLowerCase())) continue;
        if (++ids > MAX_CSV_IDS) {
          issues.push({ path: `line ${line}`, message: `More than ${MAX_CSV_IDS} IDs.` });
          break reading;
        }
        const checked = checkMember(type, value);
        if ("problem" in checked) {
          issues.push({ path: `line ${line}`, message: checked.problem });
          if (issues.length >= MAX_ISSUES) break reading;
        } else if (issues.length === 0) {
          writer.add(checked.member);
        }
      }
      if (issues.length === 0) await writer.write();
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    issues.push({ path: `line ${error.line}`, message: error.reason });
  }
  // Most likely a wrong file name or an empty export: do not wipe the audience for it.
  if (values === 0 && issues.length === 0)
    issues.push({ path: "body", message: "The CSV has no ID; to empty the audience, send its header line alone." });
  if (issues.length === 0) await writer.flush();
  return issues;
}

export const replaceMembers: RouteHandler<typeof routes.replaceMembers, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  const db = await audienceWriteDb(c.env, projectId);
  const csv = memberBodyKind(c.req.header("Content-Type")) === "csv";
  let members: string[] = [];
  if (!csv) {
    // JSON is small and already parsed: check it all before claiming anything.
    const body = c.req.valid("json");
    // Typed as JSON or CSV text; only a validated JSON object arrives here.
    const ids = typeof body === "string" ? [] : body.ids;
    const checked = checkIds((await findAudience(db, projectId, name)).type, "ids", ids);
    if (checked.issues.length) throw refused(checked.issues);
    members = checked.members;
  }
  const audience = await replaceAudienceMembers(
    db,
    projectId,
    name,
    async (writer, type) => {
      if (csv) {
        const issues = await writeCsv(writer, type, c.req.raw.body);
        if (issues.length) throw refused(issues);
      } else {
        for (const member of members) writer.add(member);
        await writer.flush();
      }
    },
    (cleanup) =>
      console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), cleanup: String(cleanup) })),
  );
  return c.json(view(audience), 200);
};

export const patchMembers: RouteHandler<typeof routes.patchMembers, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  const body = c.req.valid("json");
  const db = await audienceWriteDb(c.env, projectId);
  const { type } = await findAudience(db, projectId, name);
  const add = checkIds(type, "add", body.add ?? []);
  const remove = checkIds(type, "remove", body.remove ?? []);
  const issues = [...add.issues, ...remove.issues];
  const adding = new Set(add.members);
  (body.remove ?? []).forEach((id, index) => {
    const checked = checkMember(type, id);
    if ("member" in checked && adding.has(checked.member)) {
      issues.push({ path: `remove.${index}`, message: `"${id}" is also in \`add\`: add it or remove it, not both.` });
    }
  });
  if (issues.length) throw refused(issues.slice(0, MAX_ISSUES));
  const audience = await patchAudienceMembers(db, projectId, name, add.members, remove.members);
  return c.json(view(audience), 200);
};

export const deleteAudience: RouteHandler<typeof routes.deleteAudience, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { name } = c.req.valid("param");
  await deleteAudienceRow(await audienceWriteDb(c.env, projectId), projectId, name);
  return c.body(null, 204);
};
