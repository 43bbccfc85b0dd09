import { type SQL, sql } from "drizzle-orm";
import { parseTimestamp } from "../lib/time";
import type { Condition, WhereNode } from "./where";

/** ISO-looking strings compare as the projection stores dates: normalised to `toISOString()`. */
function normaliseTime(value: string): string {
  const t = /^\d{4}-\d{2}-\d{2}T/.test(value) ? parseTimestamp(value) : null;
  return t === null ? value : new Date(t).toISOString();
}

const COMPARATORS = { gt: sql`>`, gte: sql`>=`, lt: sql`<`, lte: sql`<=` } as const;

/**
 * Compiles a validated `where` tree to a parameterised SQL condition on `p` (the projected
 * profiles table). Every value from the caller is a bound parameter; identifiers are fixed.
 * Each condition is an `IN (subquery)` that an index answers (see src/db/schema.ts).
 */
export function compileWhere(node: WhereNode, projectId: string): SQL {
  if ("and" in node)
    return sql`(${sql.join(
      node.and.map((n) => compileWhere(n, projectId)),
      sql` AND `,
    )})`;
  if ("or" in node)
    return sql`(${sql.join(
      node.or.map((n) => compileWhere(n, projectId)),
      sql` OR `,
    )})`;
  if ("not" in node) return sql`NOT ${compileWhere(node.not, projectId)}`;
  return compileCondition(node, projectId);
}

function withAttribute(projectId: string, name: string, predicate: SQL): SQL {
  return sql`p.profile_id IN (SELECT a.profile_id FROM profile_attributes a WHERE a.project_id = ${projectId} AND a.name = ${name} AND ${predicate})`;
}

function valuePredicate(value: string | number | boolean): SQL {
  if (typeof value === "number") return sql`a.value_num = ${value}`;
  if (typeof value === "boolean") return sql`a.value_text = ${String(value)}`;
  const normalised = normaliseTime(value);
  return normalised === value ? sql`a.value_text = ${value}` : sql`a.value_text IN (${value}, ${normalised})`;
}

function withInstallation(projectId: string, predicate: SQL): SQL {
  return sql`p.profile_id IN (SELECT i.profile_id FROM installations i WHERE i.project_id = ${projectId} AND ${predicate})`;
}

function compileCondition(c: Condition, projectId: string): SQL {
  if ("attribute" in c) {
    switch (c.op) {
      case "exists":
        return withAttribute(projectId, c.attribute, sql`1`);
      case "eq":
        return withAttribute(projectId, c.attribute, valuePredicate(c.value));
      case "neq":
        // "Is not": profiles without the attribute match too.
        return sql`NOT ${withAttribute(projectId, c.attribute, valuePredicate(c.value))}`;
      case "in":
        return withAttribute(projectId, c.attribute, sql`(${sql.join(c.value.map(valuePredicate), sql` OR `)})`);
      case "contains":
        return withAttribute(
          projectId,
          c.attribute,
          sql`a.value_json IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(a.value_json) j WHERE j.value = ${c.value})`,
        );
      default: {
        const cmp = COMPARATORS[c.op];
        if (typeof c.value === "number")
          return withAttribute(projectId, c.attribute, sql`a.value_num ${cmp} ${c.value}`);
        return withAttribute(projectId, c.attribute, sql`a.value_text ${cmp} ${normaliseTime(String(c.value))}`);
      }
    }
  }
  if ("has_custom_id" in c) return c.has_custom_id ? sql`p.custom_id IS NOT NULL` : sql`p.custom_id IS NULL`;
  if ("in_audience" in c) {
    const current = sql`(SELECT generation FROM audiences WHERE project_id = ${projectId} AND name = ${c.in_audience})`;
    return sql`(
      p.custom_id IN (SELECT m.member FROM audience_members m JOIN audiences au ON au.project_id = m.project_id AND au.name = m.audience
        WHERE m.project_id = ${projectId} AND m.audience = ${c.in_audience} AND au.type = 'custom_ids' AND m.generation = ${current})
      OR p.profile_id IN (SELECT i.profile_id FROM audience_members m
        JOIN audiences au ON au.project_id = m.project_id AND au.name = m.audience
        JOIN installations i ON i.project_id = m.project_id AND i.installation_id = m.member
        WHERE m.project_id = ${projectId} AND m.audience = ${c.in_audience} AND au.type = 'installation_ids' AND m.generation = ${current}))`;
  }
  if ("platform" in c) return withInstallation(projectId, sql`i.platform = ${c.platform}`);
  if ("push_optin" in c) {
    const optedIn = withInstallation(projectId, sql`i.push_optin = 1`);
    return c.push_optin ? optedIn : sql`NOT ${optedIn}`;
  }
  if ("email_marketing" in c)
    return withAttribute(projectId, "$email_marketing", sql`a.value_text = ${c.email_marketing}`);
  const { after, before } = c.last_activity;
  const parts = [
    after === undefined ? null : sql`p.last_activity_at > ${normaliseTime(after)}`,
    before === undefined ? null : sql`p.last_activity_at < ${normaliseTime(before)}`,
  ].filter((p) => p !== null);
  return sql`(${sql.join(parts, sql` AND `)})`;
}
