import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { requireKey } from "../lib/auth";
import { ApiError, validationFailed } from "../lib/errors";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as audiences from "./audiences.handlers";
import * as audiencesRoutes from "./audiences.routes";
import { BATCH_KEY_PATHS } from "./auth";
import * as campaigns from "./campaigns.handlers";
import * as campaignsRoutes from "./campaigns.routes";
import { BATCH_CODE } from "./codes";
import * as customData from "./custom-data.handlers";
import * as customDataRoutes from "./custom-data.routes";
import * as events from "./events.handlers";
import * as eventsRoutes from "./events.routes";
import * as transactional from "./transactional";

/**
 * Batch's server APIs (SPEC §9), mounted at the root: each route parses Batch's request, calls
 * the domain the `/v1` routes call, and answers in Batch's shape.
 */
const router = new OpenAPIHono<AppEnv>({
  // As every router's hook, plus Batch's distinction between a parameter missing (30) and a bad one (31).
  defaultHook: (result) => {
    if (result.success) return;
    const error = validationFailed(result.error);
    const missing = result.error.issues.some((i) => i.code === "invalid_type" && /received undefined$/.test(i.message));
    throw new ApiError(error.code, error.message, {
      issues: error.issues,
      batchCode: missing ? BATCH_CODE.MISSING_PARAMETER : BATCH_CODE.MALFORMED_PARAMETER,
    });
  },
});
// Authenticated in src/app.ts (requireBatchKey on every /1.x path) before this router runs.
router.use(BATCH_KEY_PATHS, wellFormedText);

export default router
  .openapi(customDataRoutes.updateUser, customData.updateUser)
  .openapi(customDataRoutes.deleteUser, customData.deleteUser)
  .openapi(customDataRoutes.bulkUpdateUsers, customData.bulkUpdateUsers)
  .openapi(eventsRoutes.trackEvents, events.trackEvents)
  .openapi(eventsRoutes.trackEventsBulk, events.trackEventsBulk)
  .openapi(transactional.sendRoute, transactional.send)
  .openapi(campaignsRoutes.createCampaign, campaigns.createCampaign)
  .openapi(campaignsRoutes.updateCampaign, campaigns.updateCampaign)
  .openapi(campaignsRoutes.deleteCampaign, campaigns.deleteCampaign)
  .openapi(campaignsRoutes.campaignStats, campaigns.campaignStats);

/** Batch's Audience API 2.x, mounted at `/2.{minor}/audiences`: REST key and project header, as the Profile API. */
const audienceRouter = createRouter();
audienceRouter.use("*", requireKey("rest"), wellFormedText);

export const batchAudiences = audienceRouter
  .openapi(audiencesRoutes.createAudience, audiences.createAudience)
  .openapi(audiencesRoutes.updateAudience, audiences.updateAudience)
  .openapi(audiencesRoutes.replaceAudience, audiences.replaceAudience)
  .openapi(audiencesRoutes.removeAudience, audiences.removeAudience)
  .openapi(audiencesRoutes.listAudiences, audiences.listAudiences)
  .openapi(audiencesRoutes.viewAudience, audiences.viewAudience);
