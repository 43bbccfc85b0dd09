import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, errorResponsesOf } from "../lib/errors";
import { CampaignBody, CampaignView } from "./campaigns.schema";

const security = [{ RestApiKey: [], ProjectId: [] }];
const tags = ["campaigns"];

export const TokenParam = z.object({
  token: z.uuid().openapi({ param: { name: "token", in: "path" } }),
});
const CampaignToken = z.object({ campaign_token: z.string() });
export const MAX_LIST_LIMIT = 100;

export const createCampaign = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a campaign: a draft (live: false), or live at push_time",
  security,
  request: { body: { required: true, content: { "application/json": { schema: CampaignBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: CampaignToken } } },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const listCampaigns = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The project's campaigns, newest first, a page at a time",
  security,
  request: {
    query: z
      .object({
        limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(20),
        cursor: z.uuid().optional().openapi({ description: "The `next_cursor` of the previous page." }),
      })
      .strict(),
  },
  responses: {
    200: {
      description: "A page",
      content: {
        "application/json": {
          schema: z.object({ campaigns: z.array(CampaignView), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const getCampaign = createRoute({
  method: "get",
  path: "/{token}",
  tags,
  summary: "A campaign, its state and its stats",
  security,
  request: { params: TokenParam },
  responses: {
    200: { description: "The campaign", content: { "application/json": { schema: CampaignView } } },
    ...errorResponses,
  },
});
