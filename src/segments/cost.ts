import type { Condition, WhereNode } from "./where";

/**
 * A static limit on a tree's shape, in units of one indexed lookup, checked before anything
 * reads D1: ranges, negations and audiences weigh more than exact lookups. It cannot know how
 * many profiles a condition matches; what a query may read on this project's data is bounded
 * by src/segments/plan.ts. docs/decisions.md, "Segment query cost".
 */
export const QUERY_BUDGET = 30;

export const CONDITION_COST = {
  /** One index lookup on an exact value (or a profiles column): reads only what matches. */
  lookup: 1,
  /** A range of an index (gt/gte/lt/lte, exists, last_activity): may read most of the project. */
  range: 3,
  /** Audience membership: two joins over the audience's members. */
  audience: 5,
  /** `in`: one lookup for each started group of this many values. */
  inValuesPerUnit: 4,
  /** Under a negation (`not`, `neq`, `push_optin: false`) a condition matches the complement. */
  negation: 2,
} as const;

function conditionCost(c: Condition): number {
  if ("attribute" in c) {
    switch (c.op) {
      case "eq":
      case "contains":
        return CONDITION_COST.lookup;
      case "neq":
        return CONDITION_COST.lookup * CONDITION_COST.negation;
      case "in":
        return Math.ceil(c.value.length / CONDITION_COST.inValuesPerUnit) * CONDITION_COST.lookup;
      default:
        return CONDITION_COST.range;
    }
  }
  if ("in_audience" in c) return CONDITION_COST.audience;
  if ("last_activity" in c) return CONDITION_COST.range;
  if ("push_optin" in c) return c.push_optin ? CONDITION_COST.lookup : CONDITION_COST.lookup * CONDITION_COST.negation;
  return CONDITION_COST.lookup;
}

/** The estimated cost of a validated tree; negations multiply what they hold. */
export function queryCost(node: WhereNode): number {
  if ("and" in node) return node.and.reduce((n, c) => n + queryCost(c), 0);
  if ("or" in node) return node.or.reduce((n, c) => n + queryCost(c), 0);
  if ("not" in node) return queryCost(node.not) * CONDITION_COST.negation;
  return conditionCost(node);
}
