import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import { OperationShape } from "./operations";
import * as handlers from "./profiles.handlers";
import * as routes from "./profiles.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

router.openAPIRegistry.register("ProfileOperation", OperationShape);

export default router
  .openapi(routes.getProfile, handlers.getProfile)
  .openapi(routes.updateProfiles, handlers.updateProfiles)
  .openapi(routes.massUpdateProfiles, handlers.massUpdateProfiles);
