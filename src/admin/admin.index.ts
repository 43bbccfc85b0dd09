import deadLetters from "../dead-letters/dead-letters.index";
import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import { putEmail, putEmailChannel, putFcm, putFcmChannel } from "../messaging/channels.admin";
import meter from "../meter/meter.index";
import * as handlers from "./admin.handlers";
import * as routes from "./admin.routes";
import * as jobHandlers from "./jobs.handlers";
import * as jobRoutes from "./jobs.routes";
import * as shardHandlers from "./shards.handlers";
import * as shardRoutes from "./shards.routes";

const router = createRouter();
router.use("*", requireKey("admin"), wellFormedText);

export default router
  .openapi(routes.createProject, handlers.createProject)
  .openapi(routes.getProject, handlers.getProject)
  .openapi(routes.updateProject, handlers.updateProject)
  .openapi(routes.rotateSigningSecret, handlers.rotateSigningSecret)
  .openapi(routes.createApp, handlers.createApp)
  .openapi(putFcmChannel, putFcm)
  .openapi(putEmailChannel, putEmail)
  .openapi(shardRoutes.moveProject, shardHandlers.moveProject)
  .openapi(shardRoutes.getMove, shardHandlers.getMove)
  .openapi(shardRoutes.rollbackMove, shardHandlers.rollbackMove)
  .openapi(jobRoutes.runJob, jobHandlers.runJob)
  .openapi(jobRoutes.getJob, jobHandlers.getJob)
  .openapi(shardRoutes.listShards, shardHandlers.listShards)
  .route("/dead-letters", deadLetters)
  .route("/meter", meter);
