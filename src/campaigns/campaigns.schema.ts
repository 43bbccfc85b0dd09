import { z } from "@hono/zod-openapi";
import { AudienceNameSchema } from "../audiences/audiences.routes";
import { LANGUAGE_MESSAGE, languageCode } from "../identity/locale-codes";
import { parseTimestamp } from "../lib/time";

/** Messages of one campaign, one per language at most. */
export const MAX_CAMPAIGN_MESSAGES = 30;
/** Audiences a campaign may name (each one bound parameter set in every page query). */
export const MAX_CAMPAIGN_AUDIENCES = 10;
/** Deliveries a minute at most (and the default): a fan-out's pieces are paced to this. */
export const MAX_SEND_RATE = 1_000_000;

const text = (max: number) => z.string().min(1).max(max);

export const CampaignMessage = z
  .object({
    language: z
      .string()
      .refine((l) => languageCode(l) !== null, LANGUAGE_MESSAGE)
      .transform((l) => languageCode(l) as string)
      .optional(),
    title: text(256),
    body: text(2048),
    deeplink: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
  })
  .strict()
  .openapi("CampaignMessage");

export type CampaignMessage = z.infer<typeof CampaignMessage>;

/** `where` is validated as a segment's (src/segments/where.ts) once the body is parsed. */
export const Targeting = z
  .object({
    where: z.unknown().optional(),
    audiences: z.array(AudienceNameSchema).min(1).max(MAX_CAMPAIGN_AUDIENCES).optional(),
    platforms: z
      .array(z.enum(["ios", "android", "web"]))
      .min(1)
      .max(3)
      .optional(),
  })
  .strict()
  .openapi("CampaignTargeting");

export type Targeting = z.infer<typeof Targeting>;

const PushTime = z
  .string()
  .refine((s) => s === "now" || (/^\d{4}-\d{2}-\d{2}T/.test(s) && parseTimestamp(s) !== null), {
    message: '"now" or an ISO 8601 time, like 2026-12-24T18:00:00Z.',
  });

const fields = {
  name: text(256),
  live: z.boolean(),
  push_time: PushTime,
  targeting: Targeting.optional(),
  messages: z
    .array(CampaignMessage)
    .min(1)
    .max(MAX_CAMPAIGN_MESSAGES)
    .superRefine((messages, ctx) => {
      const seen = new Set<string>();
      messages.forEach((m, k) => {
        const key = m.language ?? "";
        if (seen.has(key))
          ctx.addIssue({
            code: "custom",
            path: [k, "language"],
            message: m.language ? `A second message in ${m.language}.` : "A second message without a language.",
          });
        seen.add(key);
      });
    }),
  send_rate: z.int().min(1).max(MAX_SEND_RATE).optional().openapi({ description: "Deliveries a minute at most." }),
};

/** A new campaign (SPEC §10), on `/v1/campaigns` and Batch's `/1.1/{API_KEY}/campaigns/create`. */
export const CampaignBody = z.object(fields).strict().openapi("CampaignCreate");
export type CampaignBody = z.infer<typeof CampaignBody>;

/** An update replaces the fields it names (Batch asks clients to repeat the creation fields). */
export const CampaignUpdate = z.object(fields).partial().strict().openapi("CampaignUpdate");
export type CampaignUpdate = z.infer<typeof CampaignUpdate>;

export const CampaignStats = z
  .object({
    targeted: z.int().openapi({ description: "Installations the targeting matched when the send ran." }),
    sent: z.int(),
    errors: z.int(),
    tokens_deleted: z.int(),
    opened: z.int().openapi({ description: "Installations that reported push_opened with this campaign's token." }),
  })
  .openapi("CampaignStats");

export const CampaignView = z
  .object({
    campaign_token: z.string(),
    name: z.string(),
    live: z.boolean(),
    state: z.enum(["draft", "scheduled", "sending", "sent"]),
    push_time: z.string(),
    push_at: z.string().nullable(),
    targeting: z.record(z.string(), z.unknown()),
    messages: z.array(CampaignMessage),
    send_rate: z.int().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    stats: CampaignStats,
  })
  .openapi("Campaign");

export type CampaignView = z.infer<typeof CampaignView>;
