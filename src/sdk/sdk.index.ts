import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import { getPushConfig, pushConfig } from "../messaging/push-config";
import * as handlers from "./sdk.handlers";
import * as routes from "./sdk.routes";

const router = createRouter();
router.use("*", requireKey("sdk"), wellFormedText);

export default router.openapi(routes.sdkBatch, handlers.sdkBatch).openapi(pushConfig, getPushConfig);
