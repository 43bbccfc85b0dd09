import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Caller, Platform } from "../env";
import {
  loadApp,
  loadProject,
  NO_SUCH_KEY,
  RATE_LIMIT_PERIOD_SECONDS,
  REST_KEY_PREFIX,
  SDK_KEY_PREFIX,
  withinRateLimit,
} from "../lib/auth";
import { countFailure } from "../lib/auth-failures";
import { ApiError } from "../lib/errors";
import { keyMatches, keyScope } from "../lib/keys";

/** The app a `/1.x/{API_KEY}` path names, once its project's REST key was shown. */
export interface BatchApp {
  appId: string;
  projectId: string;
  platform: Platform;
}

const unauthorized = (message: string) => new ApiError("UNAUTHORIZED", message);

/** `/1.x/{API_KEY}/…`: the key is the second segment, percent-decoded as Hono decodes params. */
function pathKey(path: string): string {
  const segment = path.split("/")[2] ?? "";
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Batch sends the bare key; a `Bearer ` before it is tolerated. */
function restKeyOf(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("X-Authorization")?.trim();
  return header ? header.replace(/^Bearer\s+/i, "").trim() || undefined : undefined;
}

/**
 * Checks both keys of a Batch call. Every failure is the same 401 (Batch's code 10), whether the
 * app is unknown, the REST key missing, wrong, or another project's: a 404 or a 403 would tell a
 * guesser which half it got right. Both hashes are compared even when a look-up found nothing.
 */
async function authenticateBatch(c: Context<AppEnv>): Promise<BatchApp> {
  const apiKey = pathKey(c.req.path);
  const restKey = restKeyOf(c);
  if (!restKey) throw unauthorized("Missing REST API key: send `X-Authorization: <REST API key>`.");
  const appId = keyScope(apiKey, SDK_KEY_PREFIX);
  const app = appId ? await loadApp(c, appId) : null;
  if (!(await keyMatches(apiKey, app?.sdkKeyHash ?? NO_SUCH_KEY)) || !appId || !app) {
    throw unauthorized("Unknown API key in the path: use one of the project's app (SDK) API keys.");
  }
  const keyProject = keyScope(restKey, REST_KEY_PREFIX);
  const project = keyProject === app.projectId ? await loadProject(c, app.projectId) : null;
  if (!(await keyMatches(restKey, project?.restKeyHash ?? NO_SUCH_KEY)) || !project) {
    throw unauthorized("Wrong X-Authorization: send the REST API key of the project this app belongs to.");
  }
  return { appId, projectId: app.projectId, platform: app.platform };
}

/** The paths `requireBatchKey` guards, as a Hono pattern: `/1.{minor}/{API_KEY}/…`. */
export const BATCH_KEY_PATHS = "/:version{1\\.[0-9]+}/:api_key/*";

/**
 * Authenticates Batch's `/1.x/{API_KEY}/…` paths: `API_KEY` an app's SDK key, `X-Authorization`
 * its project's REST key. Sets `c.var.caller` to that project's REST caller (so the handlers the
 * `/v1` routes use serve it unchanged) and `c.var.batchApp` to the app. Failures count against
 * the address's budget (these paths never take the admin token, so no guess here spends its
 * budget) and the project's calls against its REST rate limit, as on every REST route. Mounted once in src/app.ts on {@link BATCH_KEY_PATHS}, ahead of every router, so any
 * `/1.x` route is covered wherever it is mounted; a router that mounts it again on its own
 * routes pays nothing more: a request already admitted passes through.
 */
export function requireBatchKey(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("batchApp")) return next();
    let app: BatchApp;
    try {
      app = await authenticateBatch(c);
    } catch (error) {
      if (error instanceof ApiError && error.code === "UNAUTHORIZED") await countFailure(c, null);
      throw error;
    }
    const caller: Caller = { kind: "rest", projectId: app.projectId };
    if (!(await withinRateLimit(c.env, caller))) {
      throw new ApiError("RATE_LIMITED", "Too many requests for this key; retry after the delay in Retry-After.", {
        headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
      });
    }
    c.set("caller", caller);
    c.set("batchApp", app);
    await next();
  };
}

/** The app of a `/1.x` call, for routes that act on that app only (Batch's transactional send). */
export function batchAppOf(c: Context<AppEnv>): BatchApp {
  const app = c.get("batchApp");
  if (!app) throw new ApiError("FORBIDDEN", "This route takes an app key in its path.");
  return app;
}
