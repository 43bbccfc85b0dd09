import { createRoute, z } from "@hono/zod-openapi";
import { CampaignBody, CampaignUpdate } from "../campaigns/campaigns.schema";
import { errorResponsesOf } from "../lib/errors";
import { ApiKeyParam, batchSecurity } from "./custom-data.routes";

/** Batch's Campaigns API 1.1 (SPEC §10): the same campaigns as `/v1/campaigns`, for the app of API_KEY. */

const tags = ["batch"];
const TokenParams = z.object({
  api_key: ApiKeyParam,
  token: z.uuid().openapi({ param: { name: "token", in: "path" } }),
});
const CampaignToken = z.object({ campaign_token: z.string() });
const tokenAnswer = (description: string) => ({
  description,
  content: { "application/json": { schema: CampaignToken } },
});

export const createCampaign = createRoute({
  method: "post",
  path: "/1.1/{api_key}/campaigns/create",
  tags,
  summary: "Batch Campaigns API: create a campaign to the app's installations",
  security: batchSecurity,
  request: {
    params: z.object({ api_key: ApiKeyParam }),
    body: { required: true, content: { "application/json": { schema: CampaignBody } } },
  },
  responses: { 201: tokenAnswer("Created"), ...errorResponsesOf(400, 401) },
});

export const updateCampaign = createRoute({
  method: "post",
  path: "/1.1/{api_key}/campaigns/update/{token}",
  tags,
  summary: "Batch Campaigns API: replace the fields given; live: true sends a draft",
  security: batchSecurity,
  request: {
    params: TokenParams,
    body: { required: true, content: { "application/json": { schema: CampaignUpdate } } },
  },
  responses: { 200: tokenAnswer("Updated"), ...errorResponsesOf(400, 401, 404, 409) },
});

export const deleteCampaign = createRoute({
  method: "post",
  path: "/1.1/{api_key}/campaigns/delete/{token}",
  tags,
  summary: "Batch Campaigns API: delete a campaign (a scheduled one never sends; a sending one stops)",
  security: batchSecurity,
  request: { params: TokenParams },
  responses: { 200: tokenAnswer("Deleted"), ...errorResponsesOf(400, 401, 404) },
});

export const BatchCampaignStats = z
  .object({
    campaign_token: z.string(),
    detail: z.array(
      z.object({
        date: z.string().nullable().openapi({ description: "The day the send started (UTC), null before." }),
        targeted: z.int(),
        sent: z.int(),
        direct_open: z.int(),
        errors: z.int(),
        tokens_deleted: z.int(),
      }),
    ),
  })
  .openapi("BatchCampaignStats");

export const campaignStats = createRoute({
  method: "get",
  path: "/1.1/{api_key}/campaigns/stats/{token}",
  tags,
  summary: "Batch Campaigns API: a campaign's stats",
  security: batchSecurity,
  request: { params: TokenParams },
  responses: {
    200: { description: "The stats", content: { "application/json": { schema: BatchCampaignStats } } },
    ...errorResponsesOf(400, 401, 404),
  },
});
