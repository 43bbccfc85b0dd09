import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import type * as routes from "./campaigns.routes";
import { createCampaign as create } from "./lifecycle";
import { listCampaigns as list, readCampaign, viewOf } from "./store";

export const createCampaign: RouteHandler<typeof routes.createCampaign, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const campaign = await create(c.env, { projectId, appIds: null }, c.req.valid("json"));
  return c.json({ campaign_token: campaign.token }, 201);
};

export const listCampaigns: RouteHandler<typeof routes.listCampaigns, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { limit, cursor } = c.req.valid("query");
  const page = await list(c.env, projectId, cursor ?? null, limit);
  const views = await Promise.all(page.campaigns.map((x) => viewOf(c.env, x)));
  return c.json({ campaigns: views, next_cursor: page.more ? (views.at(-1)?.campaign_token ?? null) : null }, 200);
};

export const getCampaign: RouteHandler<typeof routes.getCampaign, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { token } = c.req.valid("param");
  const campaign = await readCampaign(c.env, projectId, token);
  if (!campaign) throw new ApiError("NOT_FOUND", `No campaign ${token}.`);
  return c.json(await viewOf(c.env, campaign), 200);
};
