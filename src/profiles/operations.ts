import { z } from "@hono/zod-openapi";
import {
  AttributesObject,
  type AttributeWrite,
  parseAttributes,
  parseEvent,
  timeProblem,
  type ValidEvent,
} from "../identity/attributes";
import { CustomIdSchema, InstallationIdSchema } from "../identity/identifiers";
import { issuePath, reportUnknownFields } from "../lib/errors";
import { ECHO_LIMIT } from "../lib/json";

export const MAX_UPDATE_OPERATIONS = 200;
export const MAX_MASS_UPDATE_OPERATIONS = 10_000;
export const MAX_EVENTS_PER_OPERATION = 20;

export type Identifier = { kind: "custom_id"; value: string } | { kind: "installation_id"; value: string };

/** One valid Profile API operation, ready to apply; plain data, so it can travel on a queue. */
export interface ProfileOperation {
  identifier: Identifier;
  time: string;
  attributes: AttributeWrite[];
  events: ValidEvent[];
  /** The attributes become the profile's whole set of custom attributes (Batch's `overwrite`). */
  clearCustom?: boolean;
}

/** How Batch's Profile API reports an operation it skipped. */
export interface OperationError {
  bulk_index: number;
  category: "identifiers" | "attributes" | "events" | "operation" | "internal";
  reason: string;
  attribute?: string;
}

const EventShape = z
  .object({
    name: z.string(),
    id: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: "Idempotency key: a repeat within 7 days is ignored." }),
    time: z.string().optional(),
    attributes: AttributesObject.optional(),
  })
  .strict();

/** The documented shape of one operation; validation happens per operation (see `validateOperations`). */
export const OperationShape = z
  .object({
    identifiers: z
      .object({ custom_id: CustomIdSchema.optional(), installation_id: InstallationIdSchema.optional() })
      .strict()
      .openapi({ description: "Exactly one of custom_id or installation_id." }),
    attributes: AttributesObject.optional().openapi({
      description:
        'Typed keys `date(name)` and `url(name)`, native `$` attributes, `null` deletes, `{"$add":[…],"$remove":[…]}`.',
    }),
    events: z.array(EventShape).max(MAX_EVENTS_PER_OPERATION).optional(),
    time: z.string().optional().openapi({ description: "When the attribute writes happened (default: receipt)." }),
  })
  .strict()
  .openapi("ProfileOperation");

const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Builds the operation's writes, reporting every problem with its path. Each part is checked on
 * its own (identifiers, time, attributes, each event), so that a problem in one hides none in
 * another: a strict object would stop at its own fields before the checks that build on them.
 */
function parseOperation(now: number) {
  const identifiers = OperationShape.shape.identifiers
    .check(
      z.superRefine(
        (ids: Record<string, unknown>, ctx) => {
          if ((ids.custom_id === undefined) === (ids.installation_id === undefined)) {
            ctx.addIssue({ code: "custom", path: [], message: "Give exactly one of custom_id or installation_id." });
          }
        },
        // Also when a value is invalid: "both given" is a problem of its own.
        { when: (payload) => isObject(payload.value) },
      ),
    )
    .transform(
      ({ custom_id, installation_id }): Identifier =>
        custom_id !== undefined
          ? { kind: "custom_id", value: custom_id }
          : { kind: "installation_id", value: installation_id ?? "" },
    );
  const time = z
    .string()
    .optional()
    .transform((value, ctx) => {
      const problem = value === undefined ? null : timeProblem(value, now);
      if (problem) ctx.addIssue({ code: "custom", path: [], message: problem });
      return new Date(value === undefined || problem ? now : value).toISOString();
    });
  const event = EventShape.loose().transform((e, ctx) => {
    reportUnknownFields(e, Object.keys(EventShape.shape), ctx);
    return parseEvent({ id: e.id ?? "", name: e.name, time: e.time, attributes: e.attributes }, now, ctx, []);
  });
  return z
    .object({
      identifiers,
      attributes: AttributesObject.optional().transform((a, ctx) => (a ? parseAttributes(a, ctx, []) : [])),
      events: z.array(event).max(MAX_EVENTS_PER_OPERATION).optional(),
      time,
    })
    .strict()
    .transform(
      (op): ProfileOperation => ({
        identifier: op.identifiers,
        time: op.time,
        attributes: op.attributes,
        events: op.events ?? [],
      }),
    );
}

function categoryOf(path: readonly PropertyKey[]): OperationError["category"] {
  const head = path[0];
  return head === "identifiers" || head === "attributes" || head === "events" ? head : "operation";
}

/**
 * Validates each operation on its own, as Batch does: invalid operations are reported by
 * `bulk_index` and skipped, valid ones are returned to be applied.
 */
export function validateOperations(
  body: unknown[],
  now: number,
): { valid: { bulk_index: number; op: ProfileOperation }[]; errors: OperationError[] } {
  const schema = parseOperation(now);
  const valid: { bulk_index: number; op: ProfileOperation }[] = [];
  const errors: OperationError[] = [];
  body.forEach((raw, bulk_index) => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) {
      valid.push({ bulk_index, op: parsed.data });
      return;
    }
    for (const issue of parsed.error.issues) {
      const paths = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      for (const path of paths) {
        const attribute = issuePath(path.slice(categoryOf(path) === "operation" ? 0 : 1));
        const reason = issue.code === "unrecognized_keys" ? `Unknown field "${String(path.at(-1))}".` : issue.message;
        errors.push({
          bulk_index,
          category: categoryOf(path),
          reason: reason.slice(0, ECHO_LIMIT),
          ...(attribute ? { attribute: attribute.slice(0, ECHO_LIMIT) } : {}),
        });
      }
    }
  });
  return { valid, errors };
}
