import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./privacy.handlers";
import * as routes from "./privacy.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router
  .openapi(routes.createRequest, handlers.createRequest)
  .openapi(routes.listRequests, handlers.listRequests)
  .openapi(routes.getRequest, handlers.getRequest)
  .openapi(routes.getArchive, handlers.getArchive);
