import { and, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { webhooks } from "../db/schema";
import { chunkBy, jsonBytes } from "../lib/chunk";
import { uuidv7 } from "../lib/ids";
import type { WebhookDeliveryMessage, WebhookItem } from "./items";
import { webhookRuntime } from "./runtime";
import { subscribed } from "./topics";

/** A POST carries at most 100 items (SPEC §5). */
export const MAX_ITEMS_PER_DELIVERY = 100;
/** A queue message holds at most 128 KB; an event's attributes are at most 64 KB. */
const MAX_DELIVERY_BYTES = 100 * 1024;
/** A sendBatch takes at most 100 messages and 256 KB. */
const MAX_SEND_BYTES = 240 * 1024;
/** D1 binds at most 100 parameters per statement. */
const PROJECTS_PER_QUERY = 90;

/**
 * Queues the deliveries of these items to every enabled webhook subscribed to them: one queue
 * message per webhook and POST, so a retry of one webhook never sends another's items again and
 * a slow receiver holds back only itself. Never calls a receiver. Items of several projects may
 * be mixed; each goes only to its own project's webhooks.
 */
export async function publishWebhookItems(env: Env, items: WebhookItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const projectIds = [...new Set(items.map((i) => i.project_id))];
  const db = drizzle(env.DB);
  const hooks = [];
  for (const ids of chunkBy(projectIds, PROJECTS_PER_QUERY, Number.POSITIVE_INFINITY)) {
    hooks.push(
      ...(await db
        .select({ id: webhooks.id, projectId: webhooks.projectId, topics: webhooks.topics })
        .from(webhooks)
        .where(and(inArray(webhooks.projectId, ids), eq(webhooks.enabled, true)))),
    );
  }
  const createdAt = new Date(webhookRuntime.now()).toISOString();
  const messages: WebhookDeliveryMessage[] = [];
  for (const hook of hooks) {
    const mine = items.filter((i) => i.project_id === hook.projectId && subscribed(hook.topics, i.topic));
    for (const chunk of chunkBy(mine, MAX_ITEMS_PER_DELIVERY, MAX_DELIVERY_BYTES)) {
      messages.push({
        type: "webhook_delivery",
        delivery_id: uuidv7(),
        webhook_id: hook.id,
        project_id: hook.projectId,
        created_at: createdAt,
        items: chunk,
      });
    }
  }
  for (const batch of chunkBy(messages, 100, MAX_SEND_BYTES, jsonBytes)) {
    await env.WEBHOOKS.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
  }
  return messages.length;
}
