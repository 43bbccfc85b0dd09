import { Hono } from "hono";
import type { AppEnv } from "../env";
import { DEBUG_PAGE } from "./debug.page";
import { DEBUG_SCRIPT } from "./debug.script";
import { DEBUG_STYLES } from "./debug.styles";

/**
 * Nothing but this origin, and only for the page's own script, styles and API calls: the page
 * holds a REST key, so no inline script, no third party, no framing, no form posting elsewhere.
 */
export const DEBUG_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const router = new Hono<AppEnv>();

router.use("*", async (c, next) => {
  await next();
  c.header("Content-Security-Policy", DEBUG_CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-store");
});

router.get("/", (c) => c.html(DEBUG_PAGE));
router.get("/debug.js", (c) => c.body(DEBUG_SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
router.get("/debug.css", (c) => c.body(DEBUG_STYLES, 200, { "Content-Type": "text/css; charset=utf-8" }));

export default router;
