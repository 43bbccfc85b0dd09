import { type SQL, sql } from "drizzle-orm";
import { audienceMembers, compileWhere, inSource, type LeafSource, leafSource } from "./compile";
import { audienceNames, countConditions, type WhereNode } from "./where";

/**
 * What one segment statement may cost, in index probes: a seek into an index (or into a list
 * built for the statement) for one profile. Reading an index in order costs about an eighth of
 * a probe an entry (measured at a million profiles, SQLite as D1 runs it). A count of one
 * condition that every profile matches costs 1⅛ a profile, so this allows that on a project of
 * 1,100,000 profiles, and nothing costlier anywhere. docs/decisions.md, "Segment query cost".
 */
export const PROBE_BUDGET = 1_250_000;
/** What reading one index entry in order costs, in probes. */
const READ = 1 / 8;

/** Runs `SELECT count(*) AS n FROM (SELECT 1 ... LIMIT cap)` and answers n. */
export type Probe = (query: SQL) => Promise<number>;

export type Plan =
  | {
      ok: true;
      condition: SQL;
      probes: number;
      /** How many profiles match, when the plan's own counts already say (one condition that counts profiles). */
      count?: number;
    }
  | { ok: false; probes: number; hint: string };

const capped = (s: LeafSource, cap: number) =>
  sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${s.from} WHERE ${s.filter} LIMIT ${Math.max(0, Math.floor(cap))})`;

/** How many of `s` there are, read no further than `cap` index entries. */
const countUpTo = (probe: Probe, s: LeafSource, cap: number) => probe(capped(s, cap + 1));

/** `and` nested in `and` is one `and`. */
function flattenAnd(node: WhereNode): WhereNode[] {
  return "and" in node ? node.and.flatMap(flattenAnd) : [node];
}

const HINTS = {
  and: "every condition of its and matches too many profiles: add one that matches fewer (an eq or in on a selective attribute), or use fewer conditions",
  set: "its conditions match too many profiles: narrow them (an eq or in on a selective attribute)",
  walk: "a not, a neq, push_optin false, has_custom_id, last_activity or an or mixing those is checked against every profile of the project, once for each condition: use fewer conditions, or put them in an and with a condition that matches fewer profiles",
} as const;

/**
 * Chooses how a validated tree runs, from how many profiles its conditions really match
 * (index-only counts, each stopped as soon as the answer cannot fit), and refuses a tree whose
 * cheapest plan would cost more than `budget` probes. The plans, by shape of the tree:
 *
 * - an `and` holding a condition that is an index set: the set with the fewest matches drives
 *   (read once, each match probed for being active), every other condition is checked for each
 *   driving match with one seek: matches × (conditions + ⅛);
 * - one set, or an `or` of sets (one list): their matches, each probed active: Σ matches × 1⅛;
 * - anything else walks every active profile and probes each condition in lists built once:
 *   profiles × (conditions + ⅛) + Σ list sizes × ⅛.
 *
 * Results are those of `compileWhere(where)` in every plan: only the access path changes.
 */
export async function planWhere(
  where: WhereNode,
  projectId: string,
  probe: Probe,
  budget = PROBE_BUDGET,
): Promise<Plan> {
  const conditions = countConditions(where);
  const parts = flattenAnd(where);

  // A set, an or of sets, or an and of anything holding at least one set.
  const sets = parts.map((n) => ("and" in n || "or" in n || "not" in n ? null : leafSource(n, projectId)));
  const orOfSets =
    parts.length === 1 && "or" in where
      ? where.or.map((n) => ("and" in n || "or" in n || "not" in n ? null : leafSource(n, projectId)))
      : null;

  if (parts.length > 1 && sets.some((s) => s !== null)) {
    // Every condition costs at least one seek for each driving match.
    const extra = READ * (await audienceRows(where, projectId, probe, budget / READ));
    const perMatch = conditions + READ; // read the driving match, probe it active, check the others
    let best = { index: -1, matches: Math.floor((budget - extra) / perMatch) + 1 };
    for (const [index, s] of sets.entries()) {
      if (!s) continue;
      const matches = await countUpTo(probe, s, best.matches - 1);
      if (matches < best.matches) best = { index, matches };
    }
    const cost = Math.ceil(best.matches * perMatch + extra);
    const driver = sets[best.index];
    if (!driver || cost > budget) return { ok: false, probes: cost, hint: HINTS.and };
    const checks = parts.filter((_, i) => i !== best.index).map((n) => compileWhere(n, projectId, "row"));
    return { ok: true, probes: cost, condition: sql`(${sql.join([inSource(driver, "list"), ...checks], sql` AND `)})` };
  }

  const union = parts.length === 1 && sets[0] ? [sets[0]] : orOfSets?.every((s) => s !== null) ? orOfSets : null;
  if (union) {
    const perMatch = 1 + READ; // read the match, probe it active
    let matches = 0;
    for (const s of union as LeafSource[]) {
      matches += await countUpTo(probe, s, Math.floor(budget / perMatch) - matches);
      if (matches * perMatch > budget) return { ok: false, probes: Math.ceil(matches * perMatch), hint: HINTS.set };
    }
    const sources = union as LeafSource[];
    const probes = Math.ceil(matches * perMatch);
    const [only] = sources;
    // One condition whose index holds active profiles only, one entry each: its count is the answer.
    if (sources.length === 1 && only) {
      return {
        ok: true,
        probes,
        condition: inSource(only, "list"),
        ...(only.countsProfiles ? { count: matches } : {}),
      };
    }
    const condition = sql`p.profile_id IN (${unionAll(sources.map((s) => sql`SELECT ${s.profileId} AS profile_id FROM ${s.from} WHERE ${s.filter}`))})`;
    return { ok: true, probes, condition };
  }

  // A walk of every active profile.
  const active: LeafSource = {
    from: sql`profiles p`,
    profileId: sql`p.profile_id`,
    filter: sql`p.project_id = ${projectId} AND p.state = 'active'`,
    countsProfiles: true,
  };
  const perProfile = Math.max(1, conditions) + READ; // read the profile, probe each condition
  const profiles = await countUpTo(probe, active, Math.floor(budget / perProfile));
  let cost = profiles * perProfile;
  if (cost <= budget) cost += READ * (await listRows(where, projectId, probe, (budget - cost) / READ));
  if (cost > budget) return { ok: false, probes: Math.ceil(cost), hint: HINTS.walk };
  return { ok: true, probes: Math.ceil(cost), condition: compileWhere(where, projectId, "list") };
}

/** D1 allows at most this many terms in one compound SELECT. */
const COMPOUND_TERMS = 5;

/** One `UNION ALL` of the selects, nested in groups small enough for D1. */
function unionAll(selects: SQL[]): SQL {
  if (selects.length <= COMPOUND_TERMS) return sql.join(selects, sql` UNION ALL `);
  const groups: SQL[] = [];
  for (let i = 0; i < selects.length; i += COMPOUND_TERMS) {
    groups.push(sql`SELECT profile_id FROM (${unionAll(selects.slice(i, i + COMPOUND_TERMS))})`);
  }
  return unionAll(groups);
}

/** Members of every audience the tree names: each is a list built once, whatever the plan. */
async function audienceRows(where: WhereNode, projectId: string, probe: Probe, budget: number): Promise<number> {
  let cost = 0;
  for (const name of new Set(audienceNames(where))) {
    cost += await countUpTo(probe, audienceMembers(name, projectId), budget - cost);
    if (cost > budget) break;
  }
  return cost;
}

/** Entries of every list a walked tree builds: its index sets, negated or not, and audiences. */
async function listRows(where: WhereNode, projectId: string, probe: Probe, budget: number): Promise<number> {
  const leaves: LeafSource[] = [];
  const visit = (n: WhereNode) => {
    if ("and" in n) n.and.forEach(visit);
    else if ("or" in n) n.or.forEach(visit);
    else if ("not" in n) visit(n.not);
    else {
      const s =
        leafSource(n, projectId) ??
        ("attribute" in n && n.op === "neq" ? leafSource({ ...n, op: "eq" }, projectId) : null) ??
        ("push_optin" in n ? leafSource({ push_optin: true }, projectId) : null);
      if (s) leaves.push(s);
    }
  };
  visit(where);
  let cost = await audienceRows(where, projectId, probe, budget);
  for (const s of leaves) {
    if (cost > budget) break;
    cost += await countUpTo(probe, s, budget - cost);
  }
  return cost;
}
