import type { RouteHandler } from "@hono/zod-openapi";
import { and, count, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { webhookAttempts, webhooks } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { projectSigningSecret } from "../lib/signing";
import { deliver } from "./deliver";
import type { WebhookItem } from "./items";
import { webhookRuntime } from "./runtime";
import { isValidTopic } from "./topics";
import { allowsHttp, urlProblem } from "./url";
import type * as routes from "./webhooks.routes";

/** Enough for a few automations per project; each one is a fan-out target for every event. */
export const MAX_WEBHOOKS_PER_PROJECT = 20;

type WebhookRow = typeof webhooks.$inferSelect;

function present(row: WebhookRow) {
  return {
    webhook_id: row.id,
    url: row.url,
    topics: row.topics,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabledReason,
    disabled_at: row.disabledAt,
    failing_since: row.failingSince,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/** Refuses a bad URL or unknown topics, naming each in the envelope's issues. */
function checkInput(env: Env, input: { url?: string; topics?: string[] }): void {
  const issues = [];
  if (input.url !== undefined) {
    const problem = urlProblem(input.url, allowsHttp(env));
    if (problem) issues.push({ path: "url", message: problem });
  }
  for (const [i, topic] of (input.topics ?? []).entries()) {
    if (!isValidTopic(topic)) {
      issues.push({
        path: `topics.${i}`,
        message: `Unknown topic "${topic}": use event.<name>, event.*, push.*, inapp.*, identity.* or identity.<created|sign_in|login|logout|orphaned>, profile.removed, privacy.completed.`,
      });
    }
  }
  if (issues.length > 0) throw new ApiError("VALIDATION_FAILED", "The webhook is invalid.", { issues });
}

/** The caller's webhook; another project's is as unknown as a missing one. */
async function ownWebhook(env: Env, projectId: string, webhookId: string): Promise<WebhookRow> {
  const row = await drizzle(env.DB)
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, webhookId), eq(webhooks.projectId, projectId)))
    .get();
  if (!row) throw new ApiError("NOT_FOUND", `No webhook ${webhookId}.`);
  return row;
}

export const createWebhook: RouteHandler<typeof routes.createWebhook, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const body = c.req.valid("json");
  checkInput(c.env, body);
  const db = drizzle(c.env.DB);
  const existing = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.projectId, projectId)).get();
  if ((existing?.n ?? 0) >= MAX_WEBHOOKS_PER_PROJECT) {
    throw new ApiError("CONFLICT", `A project has at most ${MAX_WEBHOOKS_PER_PROJECT} webhooks.`);
  }
  const now = new Date().toISOString();
  const row = await db
    .insert(webhooks)
    .values({
      id: uuidv7(),
      projectId,
      url: body.url,
      topics: [...new Set(body.topics)],
      description: body.description ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .returning()
    .get();
  return c.json(present(row), 201);
};

export const listWebhooks: RouteHandler<typeof routes.listWebhooks, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const rows = await drizzle(c.env.DB)
    .select()
    .from(webhooks)
    .where(eq(webhooks.projectId, projectId))
    .orderBy(webhooks.createdAt, webhooks.id);
  return c.json({ webhooks: rows.map(present) }, 200);
};

export const getWebhook: RouteHandler<typeof routes.getWebhook, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  return c.json(present(await ownWebhook(c.env, projectId, c.req.valid("param").webhook_id)), 200);
};

export const updateWebhook: RouteHandler<typeof routes.updateWebhook, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { webhook_id } = c.req.valid("param");
  const body = c.req.valid("json");
  checkInput(c.env, body);
  const row = await ownWebhook(c.env, projectId, webhook_id);
  const now = new Date().toISOString();
  const enabling = body.enabled === true && !row.enabled;
  const updated = await drizzle(c.env.DB)
    .update(webhooks)
    .set({
      ...(body.url !== undefined && { url: body.url }),
      ...(body.topics !== undefined && { topics: [...new Set(body.topics)] }),
      ...(body.description !== undefined && { description: body.description }),
      ...(body.enabled === false &&
        row.enabled && { enabled: false, disabledAt: now, disabledReason: "disabled by its owner" }),
      // Enabled again: it starts afresh, its 24 h of failures forgotten.
      ...(enabling && { enabled: true, disabledAt: null, disabledReason: null, failingSince: null }),
      updatedAt: now,
    })
    .where(and(eq(webhooks.id, webhook_id), eq(webhooks.projectId, projectId)))
    .returning()
    .get();
  if (!updated) throw new ApiError("NOT_FOUND", `No webhook ${webhook_id}.`);
  return c.json(present(updated), 200);
};

export const deleteWebhook: RouteHandler<typeof routes.deleteWebhook, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { webhook_id } = c.req.valid("param");
  await ownWebhook(c.env, projectId, webhook_id);
  const db = drizzle(c.env.DB);
  await db.batch([
    db.delete(webhookAttempts).where(eq(webhookAttempts.webhookId, webhook_id)),
    db.delete(webhooks).where(and(eq(webhooks.id, webhook_id), eq(webhooks.projectId, projectId))),
  ]);
  return c.body(null, 204);
};

export const testWebhook: RouteHandler<typeof routes.testWebhook, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const row = await ownWebhook(c.env, projectId, c.req.valid("param").webhook_id);
  const secret = await projectSigningSecret(c.env, projectId);
  if (!secret) throw new ApiError("CONFLICT", "The project has no signing secret; rotate one first.");
  const deliveryId = uuidv7();
  const time = new Date(webhookRuntime.now()).toISOString();
  const ping: WebhookItem = {
    id: `ping:${deliveryId}`,
    topic: "ping",
    time,
    project_id: projectId,
    profile_id: null,
    custom_id: null,
    installation_id: null,
    data: {},
  };
  const result = await deliver(row.url, secret, deliveryId, row.id, [ping]);
  await drizzle(c.env.DB)
    .insert(webhookAttempts)
    .values({
      id: uuidv7(),
      webhookId: row.id,
      deliveryId,
      attempt: 1,
      time,
      outcome: result.ok ? "delivered" : "failed",
      status: result.status,
      latencyMs: result.latencyMs,
      error: result.error,
      responseExcerpt: result.excerpt,
      items: 1,
    });
  return c.json(
    {
      delivered: result.ok,
      delivery_id: deliveryId,
      status: result.status,
      latency_ms: result.latencyMs,
      error: result.error,
    },
    200,
  );
};

export const listDeliveries: RouteHandler<typeof routes.listDeliveries, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { webhook_id } = c.req.valid("param");
  const { limit } = c.req.valid("query");
  await ownWebhook(c.env, projectId, webhook_id);
  const rows = await drizzle(c.env.DB)
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.webhookId, webhook_id))
    .orderBy(desc(webhookAttempts.time), desc(webhookAttempts.id))
    .limit(limit);
  return c.json(
    {
      deliveries: rows.map((r) => ({
        delivery_id: r.deliveryId,
        attempt: r.attempt,
        time: r.time,
        outcome: r.outcome,
        status: r.status,
        latency_ms: r.latencyMs,
        error: r.error,
        response_excerpt: r.responseExcerpt,
        items: r.items,
      })),
    },
    200,
  );
};
