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
 * How a condition reads its index. `list`: `p.profile_id IN (subquery)`, the subquery's matches
 * built once (cheap when they are few, or when they drive the query). `row`: a correlated
 * `EXISTS` probed once for each profile the query already holds (one index seek), so a
 * condition that matches the whole project costs nothing until a profile reaches it.
 */
export type Mode = "list" | "row";

/**
 * A condition that is a set of profile IDs read from one index: its table, the column that
 * holds the profile ID, and the filter (every value a bound parameter).
 */
export interface LeafSource {
  from: SQL;
  profileId: SQL;
  filter: SQL;
  /**
   * Its rows are of active profiles only, one a profile at most: their count is the number of
   * profiles the condition matches. True of attributes and array items (D1 keeps those of
   * active profiles only: src/projection/statements.ts); not of installations.
   */
  countsProfiles: boolean;
}

function attributeSource(projectId: string, name: string, predicate: SQL): LeafSource {
  return {
    from: sql`profile_attributes a`,
    profileId: sql`a.profile_id`,
    filter: sql`a.project_id = ${projectId} AND a.name = ${name} AND ${predicate}`,
    countsProfiles: true,
  };
}

function installationSource(projectId: string, predicate: SQL): LeafSource {
  return {
    from: sql`installations i`,
    profileId: sql`i.profile_id`,
    filter: sql`i.project_id = ${projectId} AND ${predicate}`,
    countsProfiles: false,
  };
}

function valuePredicate(value: string | number | boolean): SQL {
  if (typeof value === "number") return sql`a.value_num = ${value}`;
  if (typeof value === "boolean") return sql`a.value_text = ${String(value)}`;
  const normalised = normaliseTime(value);
  return normalised === value ? sql`a.value_text = ${value}` : sql`a.value_text IN (${value}, ${normalised})`;
}

/**
 * The index set a positive condition reads, or null for a condition that is not one (a
 * negation, a profiles column, an audience). Semantics as the rest of the compiler.
 */
export function leafSource(c: Condition, projectId: string): LeafSource | null {
  if ("attribute" in c) {
    switch (c.op) {
      case "exists":
        return attributeSource(projectId, c.attribute, sql`1`);
      case "eq":
        return attributeSource(projectId, c.attribute, valuePredicate(c.value));
      case "neq":
        return null;
      case "in":
        return attributeSource(projectId, c.attribute, sql`(${sql.join(c.value.map(valuePredicate), sql` OR `)})`);
      case "contains":
        // Arrays hold strings only: another value is in none (compiled to `0`, not a set).
        if (typeof c.value !== "string") return null;
        return {
          from: sql`profile_attribute_items t`,
          profileId: sql`t.profile_id`,
          filter: sql`t.project_id = ${projectId} AND t.name = ${c.attribute} AND t.item = ${c.value}`,
          countsProfiles: true,
        };
      default: {
        const cmp = COMPARATORS[c.op];
        if (typeof c.value === "number")
          return attributeSource(projectId, c.attribute, sql`a.value_num ${cmp} ${c.value}`);
        return attributeSource(projectId, c.attribute, sql`a.value_text ${cmp} ${normaliseTime(String(c.value))}`);
      }
    }
  }
  if ("platform" in c) return installationSource(projectId, sql`i.platform = ${c.platform}`);
  if ("push_optin" in c && c.push_optin) return installationSource(projectId, sql`i.push_optin = 1`);
  if ("email_marketing" in c)
    return attributeSource(projectId, "$email_marketing", sql`a.value_text = ${c.email_marketing}`);
  return null;
}

/** `p` is in the set, as a list or as a per-profile probe. */
export function inSource(s: LeafSource, mode: Mode): SQL {
  return mode === "list"
    ? sql`p.profile_id IN (SELECT ${s.profileId} FROM ${s.from} WHERE ${s.filter})`
    : sql`EXISTS (SELECT 1 FROM ${s.from} WHERE ${s.filter} AND ${s.profileId} = p.profile_id)`;
}

/**
 * Compiles a validated `where` tree to a parameterised SQL condition on `p` (the projected
 * profiles table). Every value from the caller is a bound parameter; identifiers are fixed.
 * Each condition is read through an index (see src/db/schema.ts), as a list or per profile
 * (`mode`); which one, and in what order, is src/segments/plan.ts's choice.
 */
export function compileWhere(node: WhereNode, projectId: string, mode: Mode = "list"): SQL {
  if ("and" in node)
    return sql`(${sql.join(
      node.and.map((n) => compileWhere(n, projectId, mode)),
      sql` AND `,
    )})`;
  if ("or" in node)
    return sql`(${sql.join(
      node.or.map((n) => compileWhere(n, projectId, mode)),
      sql` OR `,
    )})`;
  if ("not" in node) return sql`NOT ${compileWhere(node.not, projectId, mode)}`;
  return compileCondition(node, projectId, mode);
}

function compileCondition(c: Condition, projectId: string, mode: Mode): SQL {
  const source = leafSource(c, projectId);
  if (source) return inSource(source, mode);
  if ("attribute" in c) {
    if (c.op === "neq") {
      // "Is not": profiles without the attribute match too.
      return sql`NOT ${inSource(attributeSource(projectId, c.attribute, valuePredicate(c.value)), mode)}`;
    }
    return sql`0`; // contains of a value an array cannot hold
  }
  if ("push_optin" in c) return sql`NOT ${inSource(installationSource(projectId, sql`i.push_optin = 1`), mode)}`;
  if ("has_custom_id" in c) return c.has_custom_id ? sql`p.custom_id IS NOT NULL` : sql`p.custom_id IS NULL`;
  if ("in_audience" in c) return audienceCondition(c.in_audience, projectId);
  if (!("last_activity" in c)) throw new Error("unreachable: every condition kind is compiled above");
  const { after, before } = c.last_activity;
  const parts = [
    after === undefined ? null : sql`p.last_activity_at > ${normaliseTime(after)}`,
    before === undefined ? null : sql`p.last_activity_at < ${normaliseTime(before)}`,
  ].filter((p) => p !== null);
  return sql`(${sql.join(parts, sql` AND `)})`;
}

/** Audience membership is always a list: its members are bounded by the audience, not the project. */
function audienceCondition(name: string, projectId: string): SQL {
  const current = sql`(SELECT generation FROM audiences WHERE project_id = ${projectId} AND name = ${name})`;
  return sql`(
      p.custom_id IN (SELECT m.member FROM audience_members m JOIN audiences au ON au.project_id = m.project_id AND au.name = m.audience
        WHERE m.project_id = ${projectId} AND m.audience = ${name} AND au.type = 'custom_ids' AND m.generation = ${current})
      OR p.profile_id IN (SELECT i.profile_id FROM audience_members m
        JOIN audiences au ON au.project_id = m.project_id AND au.name = m.audience
        JOIN installations i ON i.project_id = m.project_id AND i.installation_id = m.member
        WHERE m.project_id = ${projectId} AND m.audience = ${name} AND au.type = 'installation_ids' AND m.generation = ${current}))`;
}

/** The members an audience holds at most (every generation), read from its primary key. */
export function audienceMembers(name: string, projectId: string): LeafSource {
  return {
    from: sql`audience_members m`,
    profileId: sql`m.member`,
    filter: sql`m.project_id = ${projectId} AND m.audience = ${name}`,
    countsProfiles: false,
  };
}
