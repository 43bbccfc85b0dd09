import type { RouteHandler } from "@hono/zod-openapi";
import { createCampaign as create, deleteCampaign as remove, updateCampaign as update } from "../campaigns/lifecycle";
import { readCampaign, campaignStats as statsOf } from "../campaigns/store";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { batchAppOf } from "./auth";
import type * as routes from "./campaigns.routes";

/*
 * A translation (STYLE.md): Batch's campaign calls onto src/campaigns. A campaign created here
 * reaches the installations of API_KEY's app only, as a Batch app's campaign does.
 */

export const createCampaign: RouteHandler<typeof routes.createCampaign, AppEnv> = async (c) => {
  const app = batchAppOf(c);
  const campaign = await create(c.env, { projectId: app.projectId, appIds: [app.appId] }, c.req.valid("json"));
  return c.json({ campaign_token: campaign.token }, 201);
};

export const updateCampaign: RouteHandler<typeof routes.updateCampaign, AppEnv> = async (c) => {
  const app = batchAppOf(c);
  const { token } = c.req.valid("param");
  await update(c.env, app.projectId, token, c.req.valid("json"));
  return c.json({ campaign_token: token }, 200);
};

export const deleteCampaign: RouteHandler<typeof routes.deleteCampaign, AppEnv> = async (c) => {
  const app = batchAppOf(c);
  const { token } = c.req.valid("param");
  await remove(c.env, app.projectId, token);
  return c.json({ campaign_token: token }, 200);
};

export const campaignStats: RouteHandler<typeof routes.campaignStats, AppEnv> = async (c) => {
  const app = batchAppOf(c);
  const { token } = c.req.valid("param");
  const campaign = await readCampaign(c.env, app.projectId, token);
  if (!campaign) throw new ApiError("NOT_FOUND", `No campaign ${token}.`);
  const { stats } = await statsOf(c.env, token);
  return c.json(
    {
      campaign_token: token,
      detail: [
        {
          date: campaign.startedAt?.slice(0, 10) ?? null,
          targeted: stats.targeted,
          sent: stats.sent,
          direct_open: stats.opened,
          errors: stats.errors,
          tokens_deleted: stats.tokens_deleted,
        },
      ],
    },
    200,
  );
};
