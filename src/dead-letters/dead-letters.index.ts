import { createRouter } from "../lib/router";
import * as handlers from "./dead-letters.handlers";
import * as routes from "./dead-letters.routes";

/** Mounted under the admin router, which admits the admin token only. */
export default createRouter().openapi(routes.listDeadLetters, handlers.listDeadLetters);
