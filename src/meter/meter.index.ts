import { createRouter } from "../lib/router";
import * as handlers from "./meter.handlers";
import * as routes from "./meter.routes";

/** Mounted under the admin router, which admits the admin token only. */
export default createRouter()
  .openapi(routes.getMeter, handlers.getMeter)
  .openapi(routes.resetMeter, handlers.resetMeter);
