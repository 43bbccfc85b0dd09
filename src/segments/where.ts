import { z } from "@hono/zod-openapi";
import { parseTimestamp } from "../lib/time";

/** Bounds on a `where` tree, so that a query stays a query (and under D1's 100 bound parameters). */
export const WHERE_LIMITS = { depth: 8, conditions: 20, inValues: 20 } as const;

const Scalar = z.union([
  z.string().max(300),
  z.number().refine(Number.isFinite, "Expected a finite number."),
  z.boolean(),
]);
const AttributeName = z
  .string()
  .regex(/^(\$[A-Za-z_]{1,30}|[A-Za-z0-9_]{1,30})$/, "An attribute name, or a native attribute by its $ name.")
  .transform((s) => s.toLowerCase());
const Iso = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && parseTimestamp(s) !== null, "Expected an ISO 8601 time.");

export type Condition =
  | { attribute: string; op: "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "contains"; value: string | number | boolean }
  | { attribute: string; op: "exists" }
  | { attribute: string; op: "in"; value: (string | number | boolean)[] }
  | { has_custom_id: boolean }
  | { in_audience: string }
  | { platform: "ios" | "android" | "web" }
  | { push_optin: boolean }
  | { email_marketing: "subscribed" | "unsubscribed" }
  | { last_activity: { after?: string; before?: string } };

export type WhereNode = { and: WhereNode[] } | { or: WhereNode[] } | { not: WhereNode } | Condition;

const AttributeCondition = z
  .object({ attribute: AttributeName, op: z.enum(["eq", "neq", "gt", "gte", "lt", "lte", "contains"]), value: Scalar })
  .strict();
const ExistsCondition = z.object({ attribute: AttributeName, op: z.literal("exists") }).strict();
const InCondition = z
  .object({ attribute: AttributeName, op: z.literal("in"), value: z.array(Scalar).min(1).max(WHERE_LIMITS.inValues) })
  .strict();

/** Each node kind, by the key that names it. */
const CONDITIONS: Record<string, z.ZodType<Condition>> = {
  has_custom_id: z.object({ has_custom_id: z.boolean() }).strict(),
  in_audience: z.object({ in_audience: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "An audience name.") }).strict(),
  platform: z.object({ platform: z.enum(["ios", "android", "web"]) }).strict(),
  push_optin: z.object({ push_optin: z.boolean() }).strict(),
  email_marketing: z.object({ email_marketing: z.enum(["subscribed", "unsubscribed"]) }).strict(),
  last_activity: z
    .object({ last_activity: z.object({ after: Iso.optional(), before: Iso.optional() }).strict() })
    .strict()
    .refine((c) => c.last_activity.after !== undefined || c.last_activity.before !== undefined, {
      message: "Give after, before, or both.",
      path: ["last_activity"],
    }),
};

const NODE_HELP =
  "A node is exactly one of: and, or, not, {attribute, op, value}, has_custom_id, in_audience, platform, push_optin, email_marketing, last_activity.";

/**
 * A `where` node, recursively. Nodes are told apart by their key, so every issue lands on the
 * exact path of the node or field at fault (`where.and.1.op`), as a union could not say.
 */
function nodeSchema(depth: number): z.ZodType<WhereNode> {
  return z.unknown().transform((value, ctx): WhereNode => {
    const fail = (message: string, path: PropertyKey[] = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER;
    };
    if (depth > WHERE_LIMITS.depth) return fail(`A where tree is at most ${WHERE_LIMITS.depth} levels deep.`);
    if (!value || typeof value !== "object" || Array.isArray(value)) return fail(NODE_HELP);
    const node = value as Record<string, unknown>;
    const parse = <T>(schema: z.ZodType<T>, input: unknown, prefix: PropertyKey[]): T => {
      const result = schema.safeParse(input);
      if (result.success) return result.data;
      for (const i of result.error.issues) {
        const path = [...prefix, ...i.path];
        if (i.code === "unrecognized_keys") for (const k of i.keys) fail(`Unknown field "${k}".`, [...path, k]);
        else fail(i.message, path);
      }
      return z.NEVER;
    };
    const keys = Object.keys(node);
    const head = keys[0];
    if ((head === "and" || head === "or" || head === "not") && keys.length > 1) {
      return fail(`"${head}" stands alone in its node.`);
    }
    if (head === "and" || head === "or") {
      const list = parse(
        z
          .array(nodeSchema(depth + 1))
          .min(1)
          .max(WHERE_LIMITS.conditions),
        node[head],
        [head],
      );
      return (head === "and" ? { and: list } : { or: list }) as WhereNode;
    }
    if (head === "not") return { not: parse(nodeSchema(depth + 1), node.not, ["not"]) };
    if ("attribute" in node) {
      const schema = node.op === "exists" ? ExistsCondition : node.op === "in" ? InCondition : AttributeCondition;
      return parse(schema as z.ZodType<Condition>, node, []);
    }
    const schema = head !== undefined && Object.hasOwn(CONDITIONS, head) ? CONDITIONS[head] : undefined;
    return schema ? parse(schema, node, []) : fail(NODE_HELP);
  }) as unknown as z.ZodType<WhereNode>;
}

export const WhereSchema = nodeSchema(1);

/** Counts the conditions (leaves) of a tree. */
export function countConditions(node: WhereNode): number {
  if ("and" in node) return node.and.reduce((n, c) => n + countConditions(c), 0);
  if ("or" in node) return node.or.reduce((n, c) => n + countConditions(c), 0);
  if ("not" in node) return countConditions(node.not);
  return 1;
}

/** Audience names a tree refers to. */
export function audienceNames(node: WhereNode): string[] {
  if ("and" in node) return node.and.flatMap(audienceNames);
  if ("or" in node) return node.or.flatMap(audienceNames);
  if ("not" in node) return audienceNames(node.not);
  return "in_audience" in node ? [node.in_audience] : [];
}
