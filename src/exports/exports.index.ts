import { requireKey } from "../lib/auth";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./exports.handlers";
import * as routes from "./exports.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

/** `/v1/exports`: daily files and on-demand profile exports of the caller's project. */
export default router
  .openapi(routes.listExports, handlers.listExports)
  .openapi(routes.createExport, handlers.createExport)
  .openapi(routes.downloadProfiles, handlers.downloadProfiles)
  .openapi(routes.downloadDaily, handlers.downloadDaily);

/** `/v1/admin/jobs/daily_exports`. */
export const exportJobs = createRouter();
exportJobs.use("*", requireKey("admin"), wellFormedText);
exportJobs.openapi(routes.runDailyJob, handlers.runDailyJob);
