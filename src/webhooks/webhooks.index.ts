import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./webhooks.handlers";
import * as routes from "./webhooks.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router
  .openapi(routes.createWebhook, handlers.createWebhook)
  .openapi(routes.listWebhooks, handlers.listWebhooks)
  .openapi(routes.getWebhook, handlers.getWebhook)
  .openapi(routes.updateWebhook, handlers.updateWebhook)
  .openapi(routes.deleteWebhook, handlers.deleteWebhook)
  .openapi(routes.testWebhook, handlers.testWebhook)
  .openapi(routes.listDeliveries, handlers.listDeliveries);
