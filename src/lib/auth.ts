import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context, MiddlewareHandler } from "hono";
import { apps, projects } from "../db/schema";
import type { AppEnv, Caller, Platform } from "../env";
import { GroupedLimiter } from "./admission";
import { countFailure, refuseHeldBack } from "./auth-failures";
import { ApiError } from "./errors";
import { keyMatches, keyScope, secretsEqual } from "./keys";

export const REST_KEY_PREFIX = "rest";
export const SDK_KEY_PREFIX = "sdk";

type Scope = Caller["kind"];

interface CachedProject {
  restKeyHash: string;
}
interface CachedApp {
  projectId: string;
  platform: Platform;
  sdkKeyHash: string;
}

// Per-isolate cache of key hashes, so the SDK hot path does not read D1 on every call. The hash
// comparison still runs on every request. IDs that do not exist are cached too, for a shorter
// while, so made-up keys repeated cost no D1 query; both caches are bounded, oldest out first.
const CACHE_TTL_MS = 60_000;
const MISS_TTL_MS = 15_000;
const MAX_CACHED = 10_000;
const projectCache = new Map<string, { at: number; value: CachedProject | null }>();
const appCache = new Map<string, { at: number; value: CachedApp | null }>();

function cached<T>(cache: Map<string, { at: number; value: T | null }>, id: string): T | null | undefined {
  const hit = cache.get(id);
  if (hit && Date.now() - hit.at < (hit.value ? CACHE_TTL_MS : MISS_TTL_MS)) return hit.value;
  cache.delete(id);
  return undefined;
}

function remember<T>(cache: Map<string, { at: number; value: T | null }>, id: string, value: T | null): void {
  cache.delete(id);
  // Maps iterate in insertion order: the first key is the oldest entry.
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(id, { at: Date.now(), value });
}

/**
 * A look-up that no cache answers costs a D1 query, so each client address gets a budget of
 * them (wrangler.toml KEY_LOOKUP_LIMITER), spent before the query. Known keys are cached after
 * their first call, so only made-up ones run out. Without an address (local runs) there is no
 * per-client budget.
 */
async function admitLookup(c: Context<AppEnv>): Promise<void> {
  refuseHeldBack(c, null);
  const client = c.req.header("CF-Connecting-IP");
  if (!client) return;
  const { success } = await c.env.KEY_LOOKUP_LIMITER.limit({ key: `ip:${client}` });
  if (!success) {
    throw new ApiError(
      "RATE_LIMITED",
      "Too many unknown keys from this address; retry after the delay in Retry-After.",
      {
        headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
      },
    );
  }
}

/** The project's stored REST key hash, cached per isolate; null when there is no such project. */
export async function loadProject(c: Context<AppEnv>, id: string): Promise<CachedProject | null> {
  const hit = cached(projectCache, id);
  if (hit !== undefined) return hit;
  await admitLookup(c);
  const row = await drizzle(c.env.DB)
    .select({ restKeyHash: projects.restKeyHash })
    .from(projects)
    .where(eq(projects.id, id))
    .get();
  remember(projectCache, id, row ?? null);
  return row ?? null;
}

/** The app's project, platform and SDK key hash, cached per isolate; null when there is no such app. */
export async function loadApp(c: Context<AppEnv>, id: string): Promise<CachedApp | null> {
  const hit = cached(appCache, id);
  if (hit !== undefined) return hit;
  await admitLookup(c);
  const row = await drizzle(c.env.DB)
    .select({ projectId: apps.projectId, platform: apps.platform, sdkKeyHash: apps.sdkKeyHash })
    .from(apps)
    .where(eq(apps.id, id))
    .get();
  remember(appCache, id, row ?? null);
  return row ?? null;
}

function bearer(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("Authorization");
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim();
}

/**
 * The project a REST call names, in `X-Project-Id` or Batch's `X-Batch-Project`. Two headers
 * naming two projects are refused: acting on either would surprise whoever set the other.
 */
function projectHeader(c: Context<AppEnv>): string | undefined {
  const ours = c.req.header("X-Project-Id");
  const batch = c.req.header("X-Batch-Project");
  if (ours !== undefined && batch !== undefined && ours !== batch) {
    throw new ApiError("VALIDATION_FAILED", "X-Project-Id and X-Batch-Project name different projects; send one.", {
      issues: [{ path: "headers.x-batch-project", message: "Differs from X-Project-Id." }],
    });
  }
  return ours ?? batch;
}

/** A hash no key has (SHA-256 hex is 64 characters): compared against when the ID is unknown. */
export const NO_SUCH_KEY = "0".repeat(64);

const unauthorized = (message: string) => new ApiError("UNAUTHORIZED", message);
const forbidden = (message: string) => new ApiError("FORBIDDEN", message);

async function authenticateAdmin(c: Context<AppEnv>): Promise<Caller> {
  const token = bearer(c);
  if (!token) {
    if (c.req.header("X-Api-Key")) throw forbidden("An SDK key cannot use the admin API.");
    throw unauthorized("Missing admin token: send `Authorization: Bearer <ADMIN_TOKEN>`.");
  }
  refuseHeldBack(c, "admin");
  if (await secretsEqual(token, c.env.ADMIN_TOKEN)) return { kind: "admin" };
  if (keyScope(token, REST_KEY_PREFIX)) throw forbidden("A REST API key cannot use the admin API.");
  throw unauthorized("Wrong admin token.");
}

async function authenticateRest(c: Context<AppEnv>): Promise<Caller> {
  const token = bearer(c);
  if (!token) {
    if (c.req.header("X-Api-Key")) throw forbidden("An SDK key can only send data to /v1/sdk.");
    throw unauthorized("Missing REST API key: send `Authorization: Bearer <key>`.");
  }
  const keyProject = keyScope(token, REST_KEY_PREFIX);
  if (!keyProject) {
    // Never compared with ADMIN_TOKEN: a different answer for it would let every REST route test
    // guesses at the admin token. It is held back and counted as a guess at it all the same.
    refuseHeldBack(c, "admin");
    throw unauthorized("Wrong REST API key.");
  }
  const project = await loadProject(c, keyProject);
  // An unknown project hashes the key too, so its answer costs what a wrong secret's does.
  if (!(await keyMatches(token, project?.restKeyHash ?? NO_SUCH_KEY)) || !project) {
    throw unauthorized("Wrong REST API key.");
  }
  const headerProject = projectHeader(c);
  if (!headerProject) throw unauthorized("Missing project: send `X-Project-Id` (or `X-Batch-Project`).");
  if (headerProject !== keyProject) throw forbidden("This key belongs to another project.");
  return { kind: "rest", projectId: keyProject };
}

async function authenticateSdk(c: Context<AppEnv>): Promise<Caller> {
  const key = c.req.header("X-Api-Key");
  if (!key) {
    if (bearer(c)) throw forbidden("SDK endpoints take an SDK key in `X-Api-Key`, not a bearer token.");
    throw unauthorized("Missing SDK key: send `X-Api-Key: <key>`.");
  }
  const appId = keyScope(key.trim(), SDK_KEY_PREFIX);
  const app = appId ? await loadApp(c, appId) : null;
  if (!(await keyMatches(key.trim(), app?.sdkKeyHash ?? NO_SUCH_KEY)) || !appId || !app) {
    throw unauthorized("Wrong SDK key.");
  }
  return { kind: "sdk", projectId: app.projectId, appId, platform: app.platform };
}

const authenticators: Record<Scope, (c: Context<AppEnv>) => Promise<Caller>> = {
  admin: authenticateAdmin,
  rest: authenticateRest,
  sdk: authenticateSdk,
};

/** The window of the rate limits in wrangler.toml, in seconds: what Retry-After says. */
export const RATE_LIMIT_PERIOD_SECONDS = 10;

/**
 * Calls each answer of the binding decides (src/lib/admission.ts): SDK_RATE_LIMITER and
 * REST_RATE_LIMITER count groups of this many calls, so their limits in wrangler.toml are the
 * per-key limits divided by it (20,000 SDK calls / 10 = 2,000; 1,000 REST calls / 10 = 100).
 */
export const RATE_LIMIT_GROUP = 10;
const sdkLimiter = new GroupedLimiter(RATE_LIMIT_GROUP);
const restLimiter = new GroupedLimiter(RATE_LIMIT_GROUP);

/** One budget per key: an app for SDK keys, a project for REST keys, the admin token for admin. */
export function withinRateLimit(env: Env, caller: Caller): Promise<boolean> {
  return caller.kind === "sdk"
    ? sdkLimiter.admit(env.SDK_RATE_LIMITER, `app:${caller.appId}`)
    : restLimiter.admit(env.REST_RATE_LIMITER, caller.kind === "rest" ? `project:${caller.projectId}` : "admin");
}

/**
 * What a failed attempt is counted against besides its address, whatever the route: a bearer
 * value that is not a project key's shape can only be a guess at the admin token, so it spends
 * the admin token's budget on REST routes as on admin ones.
 */
function failureTarget(c: Context<AppEnv>, scope: Scope): "admin" | null {
  const token = scope === "sdk" ? undefined : bearer(c);
  return token && !keyScope(token, REST_KEY_PREFIX) ? "admin" : null;
}

/**
 * Admits only callers holding a key of the given kind, within their rate limit; sets
 * `c.var.caller`. Runs before the body is read, so a refused call costs nothing more.
 * Failed attempts are budgeted (see `auth-failures.ts`): past the budget, 429 before any look-up;
 * a key the cache already knows is still checked, so one address's guesser does not shut out
 * every device behind the same NAT.
 */
export function requireKey(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let caller: Caller;
    try {
      caller = await authenticators[scope](c);
    } catch (error) {
      if (error instanceof ApiError && error.code === "UNAUTHORIZED") await countFailure(c, failureTarget(c, scope));
      throw error;
    }
    if (!(await withinRateLimit(c.env, caller))) {
      throw new ApiError("RATE_LIMITED", "Too many requests for this key; retry after the delay in Retry-After.", {
        headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
      });
    }
    c.set("caller", caller);
    await next();
  };
}

/** The caller, narrowed to the kind the route's middleware admitted. */
export function callerOf<K extends Scope>(c: Context<AppEnv>, kind: K): Extract<Caller, { kind: K }> {
  const caller = c.get("caller");
  if (caller.kind !== kind) throw forbidden("This key cannot be used here.");
  return caller as Extract<Caller, { kind: K }>;
}
