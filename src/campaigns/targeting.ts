import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { audienceShard } from "../db/fan-out";
import { audiences } from "../db/schema";
import { projectionFor, type Shard } from "../db/shards";
import { ApiError, issuePath } from "../lib/errors";
import { compileWhere } from "../segments/compile";
import { QUERY_BUDGET, queryCost } from "../segments/cost";
import { audienceNames, countConditions, WHERE_LIMITS, type WhereNode, WhereSchema } from "../segments/where";
import type { Targeting } from "./campaigns.schema";

/** D1 binds at most 100 parameters a statement; the page query adds its own dozen. */
const MAX_WHERE_PARAMETERS = 80;

const refused = (path: string, message: string) =>
  new ApiError("VALIDATION_FAILED", `The targeting is invalid: ${message}`, {
    issues: [{ path, message }],
  });

/** The targeting as one segment tree: `where` AND in one of `audiences` (platforms filter installations). */
export function targetTree(t: Targeting): WhereNode | null {
  const parts: WhereNode[] = [];
  if (t.where !== undefined) parts.push(t.where as WhereNode);
  if (t.audiences?.length) parts.push({ or: t.audiences.map((a) => ({ in_audience: a })) });
  if (!parts.length) return null;
  return parts.length === 1 ? (parts[0] as WhereNode) : { and: parts };
}

/**
 * Checks a campaign's targeting as a segment query is checked (SPEC §5): a valid `where`
 * within the limits, and every audience it names existing in the project. Answers the
 * targeting with `where` normalised (attribute names lower-cased).
 */
export async function checkTargeting(env: Env, projectId: string, t: Targeting | undefined): Promise<Targeting> {
  const targeting: Targeting = { ...(t ?? {}) };
  if (targeting.where !== undefined) {
    const parsed = WhereSchema.safeParse(targeting.where);
    if (!parsed.success) {
      throw new ApiError("VALIDATION_FAILED", "The targeting's where tree is invalid.", {
        issues: parsed.error.issues.map((i) => ({
          path: issuePath(["targeting", "where", ...i.path]),
          message: i.message,
        })),
      });
    }
    targeting.where = parsed.data;
  }
  const tree = targetTree(targeting);
  if (!tree) return targeting;
  if (countConditions(tree) > WHERE_LIMITS.conditions) {
    throw refused("targeting", `at most ${WHERE_LIMITS.conditions} conditions, audiences included.`);
  }
  const cost = queryCost(tree);
  if (cost > QUERY_BUDGET) {
    throw refused("targeting", `it costs ${cost}, over the budget of ${QUERY_BUDGET} a query (as a segment's).`);
  }
  if (new SQLiteAsyncDialect().sqlToQuery(compileWhere(tree, projectId, "row")).params.length > MAX_WHERE_PARAMETERS) {
    throw refused("targeting", "it is too large to run; use fewer values.");
  }
  const names = [...new Set(audienceNames(tree))];
  if (names.length) {
    // Every shard holds a copy of each audience (src/db/fan-out.ts): the first answers.
    const rows = await audienceShard(await projectionFor(env, projectId))
      .db.select({ name: audiences.name })
      .from(audiences)
      .where(and(eq(audiences.projectId, projectId), inArray(audiences.name, names)));
    const found = new Set(rows.map((r) => r.name));
    const missing = names.filter((n) => !found.has(n));
    if (missing.length)
      throw refused("targeting.audiences", `no audience named ${missing.map((m) => `"${m}"`).join(", ")}.`);
  }
  return targeting;
}

/** Profiles a page reads at most (with their installations): one bounded query a shard. A test makes it small. */
export const campaignPaging = { profiles: 500 };

export interface TargetRow {
  profile_id: string;
  installation_id: string | null;
  language: string | null;
}

/**
 * One page of a campaign's targets on one shard: the next `limit` active profiles after
 * `after` (orphans and removed profiles are never read), each with its opted-in installations
 * that match the targeting (null when none). A page's work is bounded by `limit` whatever the
 * targeting selects; the last profile ID read is the next page's `after`.
 */
export async function targetPage(
  s: Shard,
  projectId: string,
  targeting: Targeting,
  appIds: string[] | null,
  after: string,
  limit: number,
): Promise<TargetRow[]> {
  const tree = targetTree(targeting);
  const conditions: SQL[] = [sql`ci.push_optin = 1`];
  if (tree) conditions.push(compileWhere(tree, projectId, "row"));
  if (targeting.platforms?.length)
    conditions.push(
      sql`ci.platform IN (${sql.join(
        targeting.platforms.map((p) => sql`${p}`),
        sql`, `,
      )})`,
    );
  if (appIds?.length)
    conditions.push(
      sql`ci.app_id IN (${sql.join(
        appIds.map((a) => sql`${a}`),
        sql`, `,
      )})`,
    );
  return s.db.all<TargetRow>(sql`
    SELECT p.profile_id, ci.installation_id,
      (SELECT la.value_text FROM profile_attributes la
        WHERE la.project_id = p.project_id AND la.profile_id = p.profile_id AND la.name = '$language') AS language
    FROM (SELECT project_id, profile_id, custom_id, last_activity_at FROM profiles
          WHERE project_id = ${projectId} AND state = 'active' AND profile_id > ${after}
          ORDER BY profile_id LIMIT ${limit}) p
    LEFT JOIN installations ci ON ci.project_id = p.project_id AND ci.profile_id = p.profile_id
      AND ${sql.join(conditions, sql` AND `)}
    ORDER BY p.profile_id, ci.installation_id`);
}
