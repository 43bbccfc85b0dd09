import type { RouteHandler } from "@hono/zod-openapi";
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { audienceShard, countAcross, pageByProfile } from "../db/fan-out";
import { audiences } from "../db/schema";
import { projectionFor } from "../db/shards";
import type { AppEnv } from "../env";
import { callerOf, RATE_LIMIT_PERIOD_SECONDS } from "../lib/auth";
import { ApiError, issuePath } from "../lib/errors";
import { compileWhere } from "./compile";
import { QUERY_BUDGET, queryCost } from "./cost";
import { PROBE_BUDGET, planWhere } from "./plan";
import type * as routes from "./segments.routes";
import { audienceNames, countConditions, WHERE_LIMITS, WhereSchema } from "./where";

/** SEGMENT_QUERY_LIMITER's limit in wrangler.toml, for the message. */
export const SEGMENT_QUERIES_PER_WINDOW = 60;

/** D1 binds at most 100 parameters a statement; the page query adds three. */
const MAX_PARAMETERS = 96;

/**
 * A cursor is the last profile ID of the page and the count of the first page, so later pages
 * answer that count without counting again (docs/decisions.md, "Segments"). A client that
 * edits the count only misleads itself: the cursor selects nothing by it.
 */
const encodeCursor = (profileId: string, count: number) => btoa(`${profileId}.${count}`).replaceAll("=", "");
function decodeCursor(cursor: string): { after: string; count: number | null } {
  try {
    // `<profile ID>.<count>`; a bare profile ID is a cursor from before the count was carried.
    const match = /^([0-9a-f-]{36})(?:\.(\d{1,15}))?$/.exec(atob(cursor));
    if (match?.[1]) return { after: match[1], count: match[2] === undefined ? null : Number(match[2]) };
  } catch {}
  throw new ApiError("VALIDATION_FAILED", "The cursor is not one this API returned.", {
    issues: [{ path: "cursor", message: "Invalid cursor." }],
  });
}

const tooComplex = (message: string) =>
  new ApiError("VALIDATION_FAILED", message, { issues: [{ path: "where", message }] });

export const querySegment: RouteHandler<typeof routes.querySegment, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const body = c.req.valid("json");
  const parsed = WhereSchema.safeParse(body.where);
  if (!parsed.success) {
    throw new ApiError("VALIDATION_FAILED", "The where tree is invalid.", {
      issues: parsed.error.issues.map((i) => ({ path: issuePath(["where", ...i.path]), message: i.message })),
    });
  }
  const where = parsed.data;
  if (countConditions(where) > WHERE_LIMITS.conditions) {
    throw tooComplex(`A where tree holds at most ${WHERE_LIMITS.conditions} conditions.`);
  }
  const cost = queryCost(where);
  if (cost > QUERY_BUDGET) {
    throw tooComplex(
      `This where tree costs ${cost}, over the budget of ${QUERY_BUDGET} a query: use fewer conditions, or fewer ranges, negations and audiences (see the README's limits).`,
    );
  }
  const cursor = body.cursor === undefined ? null : decodeCursor(body.cursor);
  // Spent once the query is known to be valid, before it reads D1.
  const { success } = await c.env.SEGMENT_QUERY_LIMITER.limit({ key: `project:${projectId}` });
  if (!success) {
    throw new ApiError(
      "RATE_LIMITED",
      `Too many segment queries for this project: at most ${SEGMENT_QUERIES_PER_WINDOW} every ${RATE_LIMIT_PERIOD_SECONDS} s; retry after the delay in Retry-After.`,
      { headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) } },
    );
  }
  // Every shard of the project: counts add up, pages merge by profile_id (src/db/fan-out.ts).
  const projection = await projectionFor(c.env, projectId);

  const names = [...new Set(audienceNames(where))];
  if (names.length > 0) {
    const found = await audienceShard(projection)
      .db.select({ name: audiences.name })
      .from(audiences)
      .where(and(eq(audiences.projectId, projectId), inArray(audiences.name, names)));
    const missing = names.filter((n) => !found.some((f) => f.name === n));
    if (missing.length) throw tooComplex(`No audience named ${missing.map((m) => `"${m}"`).join(", ")}.`);
  }

  // Every plan binds the same values as the plain compiled tree.
  const plain = sql`SELECT count(*) AS n FROM profiles p WHERE p.project_id = ${projectId} AND p.state = 'active' AND ${compileWhere(where, projectId)}`;
  if (new SQLiteAsyncDialect().sqlToQuery(plain).params.length > MAX_PARAMETERS) {
    throw tooComplex("This where tree is too large to run; split it or use fewer values.");
  }
  const probe = (query: SQL) => countAcross(projection, async (s) => (await s.db.get<{ n: number }>(query))?.n ?? 0);
  const plan = await planWhere(where, projectId, probe);
  if (!plan.ok) {
    throw tooComplex(
      `This where tree would cost at least ${plan.probes} index probes on this project's profiles, over the limit of ${PROBE_BUDGET} a query: ${plan.hint}.`,
    );
  }
  const matching = sql`FROM profiles p WHERE p.project_id = ${projectId} AND p.state = 'active' AND ${plan.condition}`;
  const countQuery = sql`SELECT count(*) AS n ${matching}`;
  const countAll = async () =>
    plan.count ?? (await countAcross(projection, async (s) => (await s.db.get<{ n: number }>(countQuery))?.n ?? 0));
  if (body.count_only) return c.json({ count: await countAll(), profiles: [], next_cursor: null }, 200);

  const page = await pageByProfile(projection, body.limit + 1, (s, limit) =>
    s.db.all<{ profile_id: string; custom_id: string | null }>(
      sql`SELECT p.profile_id, p.custom_id ${matching} ${cursor ? sql`AND p.profile_id > ${cursor.after}` : sql``}
        ORDER BY p.profile_id LIMIT ${limit}`,
    ),
  );
  const profiles = page.slice(0, body.limit);
  const more = page.length > body.limit;
  // Counted once, for the first page (not at all when it holds every match); later pages carry it.
  const count = cursor?.count ?? (cursor === null && !more ? profiles.length : await countAll());
  const last = profiles.at(-1);
  return c.json({ count, profiles, next_cursor: more && last ? encodeCursor(last.profile_id, count) : null }, 200);
};
