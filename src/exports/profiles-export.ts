import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { audiences, requestChunks, requests } from "../db/schema";
import { ApiError, issuePath } from "../lib/errors";
import { compileWhere } from "../segments/compile";
import { audienceNames, countConditions, WHERE_LIMITS, type WhereNode, WhereSchema } from "../segments/where";
import type { ExportMessage } from "./exports.messages";
import { type Cell, csvHeader, csvRows } from "./files";
import { ObjectWriter } from "./upload";

/**
 * On-demand profile exports (`POST /v1/exports` and Batch's `/2.x/profiles/export`): the
 * profiles a segment `where` matches, as CSV, one page of the projection at a time into an R2
 * multipart upload. The request's status, and the file's key once written, are read through
 * `GET /v1/requests/{id}`.
 */

export const BUILT_IN_FIELDS = ["profile_id", "custom_id", "installation_ids", "last_activity_at"] as const;
export const DEFAULT_FIELDS = [...BUILT_IN_FIELDS];
const PAGE = 1000;
const MAX_PARAMETERS = 90;

export const profilesExportKey = (projectId: string, requestId: string) =>
  `exports/${projectId}/profiles/${requestId}.csv`;

const tooComplex = (message: string) =>
  new ApiError("VALIDATION_FAILED", message, { issues: [{ path: "where", message }] });

/** Validates a `where` as segment queries do; throws the same 400s. Absent matches everyone. */
export async function validateWhere(env: Env, projectId: string, raw: unknown): Promise<WhereNode | null> {
  if (raw === undefined || raw === null) return null;
  const parsed = WhereSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError("VALIDATION_FAILED", "The where tree is invalid.", {
      issues: parsed.error.issues.map((i) => ({ path: issuePath(["where", ...i.path]), message: i.message })),
    });
  }
  const where = parsed.data;
  if (countConditions(where) > WHERE_LIMITS.conditions) {
    throw tooComplex(`A where tree holds at most ${WHERE_LIMITS.conditions} conditions.`);
  }
  const names = [...new Set(audienceNames(where))];
  if (names.length > 0) {
    const found = await drizzle(env.DB)
      .select({ name: audiences.name })
      .from(audiences)
      .where(and(eq(audiences.projectId, projectId), inArray(audiences.name, names)));
    const missing = names.filter((n) => !found.some((f) => f.name === n));
    if (missing.length) throw tooComplex(`No audience named ${missing.map((m) => `"${m}"`).join(", ")}.`);
  }
  if (new SQLiteAsyncDialect().sqlToQuery(matching(projectId, where)).params.length > MAX_PARAMETERS) {
    throw tooComplex("This where tree is too large to run; split it or use fewer values.");
  }
  return where;
}

function matching(projectId: string, where: WhereNode | null): SQL {
  return sql`FROM profiles p WHERE p.project_id = ${projectId} AND p.state = 'active' AND ${
    where ? compileWhere(where, projectId) : sql`1`
  }`;
}

/** Records the request and queues its work; returns the request ID. */
export async function queueProfilesExport(
  env: Env,
  projectId: string,
  where: WhereNode | null,
  fields: string[],
  requestId: string,
): Promise<void> {
  await drizzle(env.DB).insert(requests).values({
    id: requestId,
    projectId,
    kind: "profiles_export",
    total: 0,
    chunks: 1,
    errors: [],
    createdAt: new Date().toISOString(),
  });
  const body: ExportMessage = { type: "profiles_export", request_id: requestId, project_id: projectId, where, fields };
  await env.EXPORT_TASKS.send(body, { contentType: "json" });
}

export interface ProfileRow {
  profile_id: string;
  custom_id: string | null;
  last_activity_at: string;
}

export interface AttributeRow {
  profile_id: string;
  name: string;
  type: string;
  value_text: string | null;
  value_num: number | null;
  value_json: string | null;
}

function attributeCell(a: AttributeRow | undefined): Cell {
  if (!a) return null;
  if (a.value_json !== null) return a.value_json;
  if (a.value_num !== null) return a.value_num;
  return a.value_text;
}

/**
 * One page's CSV cells, a row per profile in `fields` order. The installations and attributes
 * are indexed by profile once: a search per cell would cost profiles × fields × rows.
 */
export function exportRows(
  fields: string[],
  page: ProfileRow[],
  installs: { profile_id: string; installation_id: string }[],
  attributes: AttributeRow[],
): Cell[][] {
  const installsOf = new Map<string, string[]>();
  for (const i of installs) {
    const list = installsOf.get(i.profile_id);
    if (list) list.push(i.installation_id);
    else installsOf.set(i.profile_id, [i.installation_id]);
  }
  const attributesOf = new Map<string, Map<string, AttributeRow>>();
  for (const a of attributes) {
    const byName = attributesOf.get(a.profile_id);
    if (byName) byName.set(a.name, a);
    else attributesOf.set(a.profile_id, new Map([[a.name, a]]));
  }
  return page.map((p): Cell[] => {
    const attrs = attributesOf.get(p.profile_id);
    return fields.map((field) => {
      if (field === "profile_id") return p.profile_id;
      if (field === "custom_id") return p.custom_id;
      if (field === "last_activity_at") return p.last_activity_at;
      if (field === "installation_ids") return JSON.stringify(installsOf.get(p.profile_id) ?? []);
      return attributeCell(attrs?.get(field));
    });
  });
}

/** Writes the export's CSV and marks the request done with the file's key, rows and hash. */
export async function runProfilesExport(
  env: Env,
  msg: Extract<ExportMessage, { type: "profiles_export" }>,
  options: { partBytes?: number } = {},
): Promise<void> {
  const db = drizzle(env.DB);
  const where = msg.where as WhereNode | null;
  const attributeNames = msg.fields.filter((f) => !(BUILT_IN_FIELDS as readonly string[]).includes(f));
  const key = profilesExportKey(msg.project_id, msg.request_id);
  const writer = new ObjectWriter(env.EXPORTS, key, {
    partBytes: options.partBytes,
    httpMetadata: { contentType: "text/csv; charset=utf-8" },
  });
  try {
    await writer.write(csvHeader(msg.fields));
    let after = "";
    for (;;) {
      const page = await db.all<ProfileRow>(
        sql`SELECT p.profile_id, p.custom_id, p.last_activity_at ${matching(msg.project_id, where)}
            AND p.profile_id > ${after} ORDER BY p.profile_id LIMIT ${PAGE}`,
      );
      if (page.length === 0) break;
      const ids = JSON.stringify(page.map((p) => p.profile_id));
      const [installs, attributes] = await Promise.all([
        env.DB.prepare(
          `SELECT profile_id, installation_id FROM installations
            WHERE project_id = ? AND profile_id IN (SELECT value FROM json_each(?)) ORDER BY installation_id`,
        )
          .bind(msg.project_id, ids)
          .all<{ profile_id: string; installation_id: string }>(),
        attributeNames.length === 0
          ? { results: [] as AttributeRow[] }
          : env.DB.prepare(
              `SELECT profile_id, name, type, value_text, value_num, value_json FROM profile_attributes
                WHERE project_id = ? AND profile_id IN (SELECT value FROM json_each(?))
                  AND name IN (SELECT value FROM json_each(?))`,
            )
              .bind(msg.project_id, ids, JSON.stringify(attributeNames))
              .all<AttributeRow>(),
      ]);
      const rows = exportRows(msg.fields, page, installs.results, attributes.results);
      await writer.write(csvRows(rows), rows.length);
      after = page.at(-1)?.profile_id ?? after;
      if (page.length < PAGE) break;
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const manifest = await writer.close();
  const result = {
    key: `profiles/${msg.request_id}.csv`,
    rows: manifest.rows,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
  };
  await db.batch([
    db.update(requests).set({ result, total: manifest.rows }).where(eq(requests.id, msg.request_id)),
    db
      .insert(requestChunks)
      .values({
        requestId: msg.request_id,
        chunk: 0,
        applied: manifest.rows,
        errors: [],
        completedAt: new Date().toISOString(),
      })
      .onConflictDoNothing(),
  ]);
}

/** An export that failed all its attempts: the request says so. */
export async function failProfilesExport(
  env: Env,
  msg: Extract<ExportMessage, { type: "profiles_export" }>,
  reason: string,
): Promise<void> {
  await drizzle(env.DB)
    .insert(requestChunks)
    .values({
      requestId: msg.request_id,
      chunk: 0,
      applied: 0,
      errors: [{ bulk_index: 0, category: "internal", reason }],
      failed: 1,
      completedAt: new Date().toISOString(),
    })
    .onConflictDoNothing();
}
