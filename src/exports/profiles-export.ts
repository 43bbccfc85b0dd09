import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { audienceShard, byText, pageByProfile, readByProfile } from "../db/fan-out";
import { audiences, requestChunks, requests } from "../db/schema";
import { projectionFor } from "../db/shards";
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
    const found = await audienceShard(await projectionFor(env, projectId))
      .db.select({ name: audiences.name })
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

/**
 * How an export is cut into queue messages (tests make it small): `page` profiles a query, and
 * `pagesPerMessage` pages a message, so one invocation's queries and CPU stay those of about
 * 20,000 profiles however large the export; the next message carries on the same upload.
 */
export const exportPaging = { page: PAGE, pagesPerMessage: 20 };

type ProfilesExportMessage = Extract<ExportMessage, { type: "profiles_export" }>;

/** Bytes a message left short of a whole part, kept for the next message of the export. */
const tailKey = (msg: ProfilesExportMessage, part: number) =>
  `exports-work/profiles/${msg.project_id}/${msg.request_id}/tail-${part}`;

/** One page of the matching profiles after `after`, as CSV cells. */
async function readPage(env: Env, msg: ProfilesExportMessage, after: string, attributeNames: string[]) {
  const projection = await projectionFor(env, msg.project_id);
  const page = await pageByProfile(projection, exportPaging.page, (s, limit) =>
    s.db.all<ProfileRow>(
      sql`SELECT p.profile_id, p.custom_id, p.last_activity_at ${matching(msg.project_id, msg.where as WhereNode | null)}
        AND p.profile_id > ${after} ORDER BY p.profile_id LIMIT ${limit}`,
    ),
  );
  if (page.length === 0) return { page, rows: [] };
  // Each profile's installations and attributes are on its own shard.
  const [installs, attributes] = await Promise.all([
    readByProfile(
      projection,
      page.map((p) => p.profile_id),
      async (shard, ids) =>
        (
          await shard.d1
            .prepare(
              `SELECT profile_id, installation_id FROM installations
        WHERE project_id = ? AND profile_id IN (SELECT value FROM json_each(?)) ORDER BY installation_id`,
            )
            .bind(msg.project_id, JSON.stringify(ids))
            .all<{ profile_id: string; installation_id: string }>()
        ).results,
    ),
    attributeNames.length === 0
      ? ([] as AttributeRow[])
      : readByProfile(
          projection,
          page.map((p) => p.profile_id),
          async (shard, ids) =>
            (
              await shard.d1
                .prepare(
                  `SELECT profile_id, name, type, value_text, value_num, value_json FROM profile_attributes
            WHERE project_id = ? AND profile_id IN (SELECT value FROM json_each(?))
              AND name IN (SELECT value FROM json_each(?))`,
                )
                .bind(msg.project_id, JSON.stringify(ids), JSON.stringify(attributeNames))
                .all<AttributeRow>()
            ).results,
        ),
  ]);
  // Installations in their ID order, as one shard's query gave them.
  installs.sort((a, b) => byText(a.installation_id, b.installation_id));
  return { page, rows: exportRows(msg.fields, page, installs, attributes) };
}

/**
 * Writes up to `exportPaging.pagesPerMessage` pages of the export's CSV. When more remain, the
 * upload is suspended and the next message queued; the message that writes the last page
 * completes the file and marks the request done with its key, rows and hash.
 */
export async function runProfilesExport(
  env: Env,
  msg: ProfilesExportMessage,
  options: { partBytes?: number } = {},
): Promise<void> {
  const attributeNames = msg.fields.filter((f) => !(BUILT_IN_FIELDS as readonly string[]).includes(f));
  const key = profilesExportKey(msg.project_id, msg.request_id);
  const resume = msg.resume;
  const writer = new ObjectWriter(env.EXPORTS, key, {
    partBytes: options.partBytes,
    httpMetadata: { contentType: "text/csv; charset=utf-8" },
    resume: resume?.upload,
  });
  let after = resume?.after ?? "";
  let finished = false;
  try {
    if (resume) {
      const tail = await env.EXPORTS.get(tailKey(msg, resume.part - 1));
      if (!tail) throw new Error("the export's carried bytes are missing");
      await writer.writeTail(new Uint8Array(await tail.arrayBuffer()));
    } else {
      await writer.write(csvHeader(msg.fields));
    }
    for (let pages = 0; pages < exportPaging.pagesPerMessage && !finished; pages++) {
      const { page, rows } = await readPage(env, msg, after, attributeNames);
      if (rows.length) await writer.write(csvRows(rows), rows.length);
      after = page.at(-1)?.profile_id ?? after;
      finished = page.length < exportPaging.page;
    }
  } catch (error) {
    // A later message must not lose the parts earlier messages uploaded: only the DLQ abandons them.
    if (!writer.resumed) await writer.abort();
    throw error;
  }
  if (!finished) {
    const part = (resume?.part ?? 0) + 1;
    const { state, tail } = await writer.suspend();
    await env.EXPORTS.put(tailKey(msg, part - 1), tail);
    const next: ExportMessage = { ...msg, resume: { after, part, upload: state } };
    await env.EXPORT_TASKS.send(next, { contentType: "json" });
    return;
  }
  const manifest = await writer.close();
  const result = {
    key: `profiles/${msg.request_id}.csv`,
    rows: manifest.rows,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
  };
  const db = drizzle(env.DB);
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
  await dropTails(env, msg);
}

/** Deletes the bytes the export's messages carried over. */
async function dropTails(env: Env, msg: ProfilesExportMessage): Promise<void> {
  const parts = msg.resume?.part ?? 0;
  for (let from = 0; from < parts; from += 1000) {
    const keys = Array.from({ length: Math.min(1000, parts - from) }, (_, k) => tailKey(msg, from + k));
    await env.EXPORTS.delete(keys);
  }
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
  const upload = msg.resume?.upload;
  if (upload) {
    await env.EXPORTS.resumeMultipartUpload(profilesExportKey(msg.project_id, msg.request_id), upload.uploadId)
      .abort()
      .catch(() => {});
  }
  await dropTails(env, msg);
}
