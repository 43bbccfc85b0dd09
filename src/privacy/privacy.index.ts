import type { Context } from "hono";
import type { AppEnv } from "../env";
import { requireKey } from "../lib/auth";
import { validationFailed } from "../lib/errors";
import { createRouter } from "../lib/router";
import { wellFormedText } from "../lib/text";
import * as handlers from "./privacy.handlers";
import * as routes from "./privacy.routes";

const router = createRouter();
router.use("*", requireKey("rest"), wellFormedText);

/**
 * A union reports its failure at the root; re-checks the body against the shape it chose (ours
 * or Batch's) so the envelope names the fields. The validator awaits hooks.
 */
async function namedIssues(result: { success: boolean; error?: unknown }, c: Context<AppEnv>): Promise<undefined> {
  if (result.success) return undefined;
  const body: unknown = await c.req.json();
  const branch = routes.branchOf(body).safeParse(body);
  if (!branch.success) throw validationFailed(branch.error);
  throw validationFailed(result.error as Parameters<typeof validationFailed>[0]);
}

export default router
  .openapi(routes.createRequest, handlers.createRequest, namedIssues as never)
  .openapi(routes.listRequests, handlers.listRequests)
  .openapi(routes.getRequest, handlers.getRequest)
  .openapi(routes.getArchive, handlers.getArchive);
