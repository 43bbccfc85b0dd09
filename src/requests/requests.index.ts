import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./requests.handlers";
import * as routes from "./requests.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router.openapi(routes.getRequest, handlers.getRequest);
