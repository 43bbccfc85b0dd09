import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { type Context, Hono } from "hono";
import { apps, projects } from "../db/schema";
import type { AppEnv } from "../env";
import { REST_KEY_PREFIX, SDK_KEY_PREFIX } from "../lib/auth";
import { ApiError, errorResponsesOf, issuesFromZod } from "../lib/errors";
import { keyMatches, keyScope } from "../lib/keys";
import { admitSend } from "../messaging/messages.handlers";
import { TransactionalBody } from "../messaging/messages.routes";
import { sendTransactional } from "../messaging/send";
import { ApiKeyParam, batchSecurity } from "./custom-data.routes";

/*
 * Batch's Transactional API 1.1 (SPEC §9, §10): `POST /1.1/{API_KEY}/transactional/send`, a thin
 * translation onto the same send as `/v1/messages/transactional`, for the app of API_KEY only.
 * The key check below is local to this file until the shared /1.x authentication lands; it
 * follows SPEC §9: API_KEY is an app's SDK key, X-Authorization that project's REST key, and
 * anything else is 401 (batch_code 10).
 */

/** Batch's numeric codes for our error codes (SPEC §9). */
const BATCH_CODES: Partial<Record<ApiError["code"], number>> = {
  UNAUTHORIZED: 10,
  FORBIDDEN: 10,
  VALIDATION_FAILED: 31,
  INVALID_JSON: 32,
  NOT_FOUND: 20,
  RATE_LIMITED: 60,
};

const unauthorized = () => new ApiError("UNAUTHORIZED", "Wrong API key or X-Authorization REST key.");

/** The app and project named by API_KEY, when X-Authorization is that project's REST key. */
async function authenticate(env: Env, apiKey: string, restKey: string | undefined) {
  const appId = keyScope(apiKey, SDK_KEY_PREFIX);
  const projectId = restKey ? keyScope(restKey, REST_KEY_PREFIX) : null;
  if (!appId || !projectId || !restKey) throw unauthorized();
  const db = drizzle(env.DB);
  const [app, project] = await db.batch([
    db.select({ projectId: apps.projectId, hash: apps.sdkKeyHash }).from(apps).where(eq(apps.id, appId)),
    db.select({ hash: projects.restKeyHash }).from(projects).where(eq(projects.id, projectId)),
  ]);
  const a = app[0];
  const p = project[0];
  if (!a || !p || a.projectId !== projectId) throw unauthorized();
  if (!(await keyMatches(apiKey, a.hash)) || !(await keyMatches(restKey, p.hash))) throw unauthorized();
  return { appId, projectId };
}

const token = z.object({ token: z.string() });

/**
 * The route as the OpenAPI document lists it. It is served by the plain router below (Batch's
 * error codes, its own key check), so app.ts registers this declaration beside it.
 */
export const transactionalSendRoute = createRoute({
  method: "post",
  path: "/1.1/{api_key}/transactional/send",
  tags: ["batch"],
  summary: "Batch Transactional API 1.1: send to up to 10,000 recipients of API_KEY's app",
  description: "The body of POST /v1/messages/transactional, without `app_ids`.",
  security: batchSecurity,
  request: {
    params: z.object({ api_key: ApiKeyParam }),
    headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
    body: { required: true, content: { "application/json": { schema: TransactionalBody } } },
  },
  responses: {
    201: { description: "Accepted for sending", content: { "application/json": { schema: token } } },
    200: {
      description: "The same Idempotency-Key within 24 h: the first send's token, nothing sent again",
      content: { "application/json": { schema: token } },
    },
    ...errorResponsesOf(400, 401),
  },
});

const router = new Hono<AppEnv>();

const send = async (c: Context<AppEnv>) => {
  try {
    const { appId, projectId } = await authenticate(
      c.env,
      c.req.param("apiKey") ?? "",
      c.req.header("X-Authorization"),
    );
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new ApiError("INVALID_JSON", "The body is not valid JSON.");
    }
    const parsed = TransactionalBody.safeParse(raw);
    if (!parsed.success) {
      throw new ApiError("VALIDATION_FAILED", "The send is not valid.", { issues: issuesFromZod(parsed.error) });
    }
    if (parsed.data.app_ids) {
      throw new ApiError("VALIDATION_FAILED", "app_ids is not part of the 1.1 API: API_KEY names the app.", {
        issues: [{ path: "app_ids", message: "Unknown field." }],
      });
    }
    await admitSend(c.env, projectId);
    const result = await sendTransactional(c.env, {
      projectId,
      body: parsed.data,
      appIds: [appId],
      idempotencyKey: c.req.header("Idempotency-Key") ?? null,
    });
    return c.json({ token: result.token }, result.created ? 201 : 200);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return c.json(
      {
        error: {
          code: error.code,
          message: error.message,
          ...(error.issues ? { issues: error.issues } : {}),
          request_id: c.get("requestId"),
          batch_code: BATCH_CODES[error.code] ?? 12,
        },
      },
      error.status,
      error.headers,
    );
  }
};

// Real Batch clients often send a trailing slash (SPEC §9).
router.post("/:apiKey/transactional/send", send);
router.post("/:apiKey/transactional/send/", send);

export default router;
