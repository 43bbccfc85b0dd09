import { createRoute, z } from "@hono/zod-openapi";
import { AttributesObject, isTimeZone, parseAttributes, parseEvent, timeProblem } from "../identity/attributes";
import { CustomIdSchema, InstallationIdSchema } from "../identity/identifiers";
import type { BatchOp } from "../identity/installation-object";
import { LANGUAGE_MESSAGE, languageCode, REGION_MESSAGE, regionCode } from "../identity/locale-codes";
import { errorResponsesOf, reportUnknownFields } from "../lib/errors";
import { parseSubscription, subscriptionToken } from "../messaging/subscription";

export const MAX_OPS_PER_BATCH = 100;

const OpId = z.string().min(1).max(128).openapi({ description: "Idempotency key of the op." });
const OpTime = z.string().optional().openapi({ description: "ISO 8601; defaults to the time of receipt." });
const short = (max: number) => z.string().min(1).max(max);

/** A code from a list, in the list's own case: `parse` says which, or null for none. */
const codeIn = (parse: (value: string) => string | null, message: string) =>
  short(8).transform((value, ctx) => {
    const code = parse(value);
    if (code === null) {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    }
    return code;
  });

/** What the document says of an op: no other field (`toBatchOp` refuses them). */
const CLOSED = { additionalProperties: false } as const;

// Loose here, closed in `toBatchOp`: a strict object would stop before the checks that build the op,
// so an unknown field would hide a bad value beside it.
const opShapes = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("identify"), id: OpId, time: OpTime, custom_id: CustomIdSchema })
    .loose()
    .openapi(CLOSED),
  z
    .object({ type: z.literal("logout"), id: OpId, time: OpTime })
    .loose()
    .openapi(CLOSED),
  z
    .object({
      type: z.literal("attributes"),
      id: OpId,
      time: OpTime,
      attributes: AttributesObject,
    })
    .loose()
    .openapi(CLOSED),
  z
    .object({
      type: z.literal("event"),
      id: OpId,
      time: OpTime,
      name: z.string(),
      attributes: AttributesObject.optional(),
      $label: z.string().optional(),
      $tags: z.array(z.string()).optional(),
    })
    .loose()
    .openapi(CLOSED),
  z
    .object({
      type: z.literal("push_token"),
      id: OpId,
      time: OpTime,
      provider: z.enum(["apns", "fcm", "hms", "webpush"]),
      token: short(4096),
    })
    .loose()
    .openapi(CLOSED),
  z
    .object({ type: z.literal("push_optin"), id: OpId, time: OpTime, opted_in: z.boolean() })
    .loose()
    .openapi(CLOSED),
  z
    .object({
      type: z.literal("push_opened"),
      id: OpId,
      time: OpTime,
      campaign_token: short(256).optional(),
      transactional_token: short(256).optional(),
    })
    .loose()
    .openapi(CLOSED),
  z
    .object({
      type: z.literal("inapp"),
      id: OpId,
      time: OpTime,
      event: z.enum(["supplied", "shown", "clicked", "closed"]),
      campaign_token: short(256),
      campaign_id: short(256).optional(),
      cta_index: z.int().min(0).max(100).optional(),
      cta_label: short(300).optional(),
    })
    .loose()
    .openapi(CLOSED),
]);

type RawOp = z.infer<typeof opShapes>;

const OP_FIELDS = Object.fromEntries(opShapes.options.map((o) => [o.shape.type.value, Object.keys(o.shape)])) as Record<
  RawOp["type"],
  string[]
>;

/**
 * Validates what zod's shapes cannot (attribute values, times) and builds the engine's op.
 * Issue paths are relative to the op: zod prefixes them with `ops.<index>`.
 */
function toBatchOp(op: RawOp, now: number, ctx: z.core.$RefinementCtx): BatchOp {
  const path: PropertyKey[] = [];
  reportUnknownFields(op, OP_FIELDS[op.type], ctx);
  const problem = op.time === undefined ? null : timeProblem(op.time, now);
  // Events report their own time problems (parseEvent); a refused time never reaches Date.
  if (problem && op.type !== "event") ctx.addIssue({ code: "custom", path: [...path, "time"], message: problem });
  const time = new Date(op.time === undefined || problem ? now : op.time).toISOString();
  switch (op.type) {
    case "identify":
      return { type: "identify", id: op.id, time, custom_id: op.custom_id };
    case "logout":
      return { type: "logout", id: op.id, time };
    case "attributes":
      return {
        type: "attributes",
        id: op.id,
        time,
        source: "sdk",
        writes: parseAttributes(op.attributes, ctx, [...path, "attributes"]),
      };
    case "event": {
      const raw = {
        id: op.id,
        name: op.name,
        time: op.time,
        attributes: op.attributes,
        label: op.$label,
        tags: op.$tags,
      };
      return { ...parseEvent(raw, now, ctx, path), source: "sdk" };
    }
    case "push_token": {
      if (op.provider !== "webpush")
        return { type: "push_token", id: op.id, time, provider: op.provider, token: op.token };
      // Stored in one form, so a subscription sent again is the same token.
      const sub = parseSubscription(op.token);
      if ("problem" in sub) ctx.addIssue({ code: "custom", path: [...path, "token"], message: sub.problem });
      const token = "problem" in sub ? op.token : subscriptionToken(sub);
      return { type: "push_token", id: op.id, time, provider: op.provider, token };
    }
    case "push_optin":
      return { type: "push_optin", id: op.id, time, opted_in: op.opted_in };
    case "push_opened":
      return {
        type: "push_opened",
        id: op.id,
        time,
        campaign_token: op.campaign_token ?? null,
        transactional_token: op.transactional_token ?? null,
      };
    case "inapp":
      return {
        type: "inapp",
        id: op.id,
        time,
        event: op.event,
        campaign_token: op.campaign_token,
        campaign_id: op.campaign_id ?? null,
        cta_index: op.cta_index ?? null,
        cta_label: op.cta_label ?? null,
      };
  }
}

const ContextSchema = z
  .object({
    platform: z.enum(["ios", "android", "web"]).optional(),
    app_version: short(64).optional(),
    sdk_version: short(64).optional(),
    os_version: short(64).optional(),
    device_model: short(128).optional(),
    language: codeIn(languageCode, LANGUAGE_MESSAGE).optional(),
    region: codeIn(regionCode, REGION_MESSAGE).optional(),
    timezone: short(64).refine(isTimeZone, "Expected an IANA time zone name, like Europe/Paris.").optional(),
  })
  .strict();

/**
 * One op, checked and built on its own, so that a problem in one op (or in the installation ID
 * or context beside them) hides none in the others: every issue comes back in one 400.
 */
const BatchOpSchema = opShapes.transform((op, ctx) => ({
  op: toBatchOp(op, Date.now(), ctx),
  timed: op.time !== undefined,
}));

/**
 * An op ID seen earlier in the batch. It runs whatever else failed (`when`), so it sees ops as
 * they are: built (`{op}`) where they passed, raw where they did not.
 */
const repeatedIds = z.superRefine(
  (ops: unknown[], ctx) => {
    const seen = new Set<string>();
    ops.forEach((item, i) => {
      const entry = item as { id?: unknown; op?: { id?: unknown } } | null;
      const id = entry?.op?.id ?? entry?.id;
      if (typeof id !== "string") return;
      if (seen.has(id))
        ctx.addIssue({ code: "custom", path: [i, "id"], message: "An op ID appears twice in the batch." });
      seen.add(id);
    });
  },
  // Whatever else failed, as long as there is an array to look at.
  { when: (payload) => Array.isArray(payload.value) },
);

export const SdkBatchSchema = z
  .object({
    installation_id: InstallationIdSchema,
    context: ContextSchema.default({}),
    ops: z
      .array(BatchOpSchema)
      .max(MAX_OPS_PER_BATCH, `At most ${MAX_OPS_PER_BATCH} ops per batch.`)
      .check(repeatedIds),
  })
  .strict()
  .transform((batch) => {
    // One receipt time for the whole batch: an op without its own time is dated by it.
    const now = new Date().toISOString();
    return {
      installation_id: batch.installation_id,
      context: batch.context,
      ops: batch.ops.map(({ op, timed }) => (timed ? op : { ...op, time: now })),
      received_at: now,
    };
  })
  .openapi("SdkBatch");

export const sdkBatch = createRoute({
  method: "post",
  path: "/batch",
  tags: ["sdk"],
  summary: "Send an installation's identity, attribute, event and push ops, applied in order",
  security: [{ SdkApiKey: [] }],
  request: {
    body: { required: true, content: { "application/json": { schema: SdkBatchSchema } } },
  },
  responses: {
    200: {
      description: "Applied (duplicates acknowledged, not applied again)",
      content: {
        "application/json": {
          schema: z.object({
            profile_id: z.string(),
            custom_id: z.string().nullable(),
            accepted: z.int(),
            duplicates: z.int(),
            rejected: z.array(z.object({ op_id: z.string().nullable(), code: z.string(), message: z.string() })),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});
