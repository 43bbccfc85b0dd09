import type { EventsMessage, IdentityMessage } from "../queue/messages";
import { IDENTITY_KINDS, type IdentityKind } from "./topics";

/**
 * One thing that happened, as a webhook POST carries it (SPEC §5). `id` is the same on every
 * retry and in every webhook that receives it, so a receiver can deduplicate.
 */
export interface WebhookItem {
  id: string;
  topic: string;
  time: string;
  project_id: string;
  profile_id: string | null;
  custom_id: string | null;
  installation_id: string | null;
  data: Record<string, unknown>;
}

/** One POST's worth of items for one webhook, on the webhook queue (src/webhooks/). */
export interface WebhookDeliveryMessage {
  type: "webhook_delivery";
  /** The `webhook-id` header: the same on every attempt. */
  delivery_id: string;
  webhook_id: string;
  project_id: string;
  /** When the delivery was queued: it is retried for 24 h from then. */
  created_at: string;
  items: WebhookItem[];
}

/**
 * The items of an event message. An event is identified per profile (two installations may use
 * the same event `id`), so the item ID is the profile's and the event's together.
 */
export function eventItems(message: EventsMessage): WebhookItem[] {
  return message.events.map((e) => ({
    id: `event:${message.profile_id}:${e.id}`,
    topic: `event.${e.name}`,
    time: e.time,
    project_id: message.project_id,
    profile_id: message.profile_id,
    custom_id: message.custom_id,
    installation_id: message.installation_id,
    data: {
      event_id: e.id,
      name: e.name,
      attributes: e.attributes,
      label: e.label,
      tags: e.tags,
      source: e.source,
      app_id: message.app_id,
      received_at: message.received_at,
    },
  }));
}

export function identityItem(message: IdentityMessage): WebhookItem {
  return {
    id: `identity:${message.id}`,
    topic: `identity.${message.kind}`,
    time: message.time,
    project_id: message.project_id,
    profile_id: message.profile_id,
    custom_id: message.custom_id,
    installation_id: message.installation_id,
    data: { kind: message.kind, source: message.source, request_id: message.request_id },
  };
}

/** The webhook items a message of the event queue carries. */
export function itemsOf(message: EventsMessage | IdentityMessage): WebhookItem[] {
  return message.type === "identity" ? [identityItem(message)] : eventItems(message);
}

/** A history entry as the identity engine records it (src/identity/history-table.ts). */
interface HistoryLike {
  time: string;
  kind: string;
  installation_id: string | null;
  custom_id: string | null;
  source: "sdk" | "api";
  request_id: string | null;
}

/**
 * The message announcing an identity transition, or null for history kinds webhooks do not
 * publish. `profileCustomId` is the custom ID the profile holds. A logout is recorded twice: on
 * the user's profile the installation leaves, and on the anonymous profile it gets; it is
 * published once, from the user's profile (the one holding a custom ID).
 */
export function identityMessage(
  id: string,
  projectId: string,
  profileId: string,
  profileCustomId: string | null,
  entry: HistoryLike,
): IdentityMessage | null {
  if (!(IDENTITY_KINDS as readonly string[]).includes(entry.kind)) return null;
  if (entry.kind === "logout" && profileCustomId === null) return null;
  return {
    type: "identity",
    id,
    project_id: projectId,
    profile_id: profileId,
    custom_id: profileCustomId ?? entry.custom_id,
    installation_id: entry.installation_id,
    kind: entry.kind as IdentityKind,
    time: entry.time,
    source: entry.source,
    request_id: entry.request_id,
  };
}

/** A `profile.removed` item, for the privacy remove and the purge (`requestId` makes it stable). */
export function profileRemovedItem(
  projectId: string,
  requestId: string,
  removed: { profile_id: string; custom_id: string | null; installation_id: string | null; time: string },
  data: Record<string, unknown> = {},
): WebhookItem {
  return {
    id: `profile.removed:${requestId}:${removed.profile_id}`,
    topic: "profile.removed",
    time: removed.time,
    project_id: projectId,
    profile_id: removed.profile_id,
    custom_id: removed.custom_id,
    installation_id: removed.installation_id,
    data: { request_id: requestId, ...data },
  };
}

/** A `privacy.completed` item: a privacy request reached its final state. */
export function privacyCompletedItem(
  projectId: string,
  request: { request_id: string; type: string; status: string; completed_at: string },
  subject: { profile_id: string | null; custom_id: string | null; installation_id: string | null },
): WebhookItem {
  return {
    id: `privacy.completed:${request.request_id}`,
    topic: "privacy.completed",
    time: request.completed_at,
    project_id: projectId,
    ...subject,
    data: { ...request },
  };
}
