import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import * as handlers from "./segments.handlers";
import * as routes from "./segments.routes";

const router = createRouter();
router.use("*", requireKey("rest"));

export default router.openapi(routes.querySegment, handlers.querySegment);
