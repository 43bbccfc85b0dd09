import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./messages.handlers";
import * as routes from "./messages.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

export default router
  .openapi(routes.sendTransactional, handlers.sendTransactionalMessage)
  .openapi(routes.getMessage, handlers.getMessage);
