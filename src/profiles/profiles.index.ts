import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import * as handlers from "./profiles.handlers";
import * as routes from "./profiles.routes";

const router = createRouter();
router.use("*", requireKey("rest"));

export default router.openapi(routes.getProfile, handlers.getProfile);
