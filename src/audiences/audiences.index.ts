import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./audiences.handlers";
import * as routes from "./audiences.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router
  .openapi(routes.createAudience, handlers.createAudience)
  .openapi(routes.listAudiences, handlers.listAudiences)
  .openapi(routes.getAudience, handlers.getAudience)
  .openapi(routes.replaceMembers, handlers.replaceMembers)
  .openapi(routes.patchMembers, handlers.patchMembers)
  .openapi(routes.deleteAudience, handlers.deleteAudience);
