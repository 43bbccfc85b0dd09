import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./campaigns.handlers";
import * as routes from "./campaigns.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router
  .openapi(routes.createCampaign, handlers.createCampaign)
  .openapi(routes.listCampaigns, handlers.listCampaigns)
  .openapi(routes.getCampaign, handlers.getCampaign);
