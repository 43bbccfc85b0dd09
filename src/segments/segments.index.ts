import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./segments.handlers";
import * as routes from "./segments.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router.openapi(routes.querySegment, handlers.querySegment);
