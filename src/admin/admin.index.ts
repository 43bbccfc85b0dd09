import deadLetters from "../dead-letters/dead-letters.index";
import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./admin.handlers";
import * as routes from "./admin.routes";

const router = createRouter();
router.use("*", requireKey("admin"), wellFormedText);

export default router
  .openapi(routes.createProject, handlers.createProject)
  .openapi(routes.getProject, handlers.getProject)
  .openapi(routes.updateProject, handlers.updateProject)
  .openapi(routes.rotateSigningSecret, handlers.rotateSigningSecret)
  .openapi(routes.createApp, handlers.createApp)
  .route("/dead-letters", deadLetters);
