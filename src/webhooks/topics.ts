/**
 * Webhook topics (SPEC §5) and how a subscription matches an item. An event's item has the topic
 * `event.<name>`; `push.*` and `inapp.*` name the events of the daily export kinds (SPEC §6).
 */

export const IDENTITY_KINDS = ["created", "sign_in", "login", "logout", "orphaned"] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export const PUSH_EVENTS = new Set([
  "push_optin",
  "push_optout",
  "push_sent",
  "push_opened",
  "push_error",
  "token_deleted",
]);
export const INAPP_EVENTS = new Set(["inapp_supplied", "inapp_shown", "inapp_clicked", "inapp_closed"]);

const EVENT_TOPIC = /^event\.[a-z0-9_]{1,30}$/;
const FIXED_TOPICS = new Set([
  "event.*",
  "push.*",
  "inapp.*",
  "identity.*",
  ...IDENTITY_KINDS.map((k) => `identity.${k}`),
  "profile.removed",
  "privacy.completed",
]);

/** Whether a webhook may subscribe to this topic. */
export function isValidTopic(topic: string): boolean {
  return FIXED_TOPICS.has(topic) || EVENT_TOPIC.test(topic);
}

/** Whether a subscription to `topic` receives an item of topic `itemTopic`. */
export function topicMatches(topic: string, itemTopic: string): boolean {
  if (topic === itemTopic) return true;
  if (!itemTopic.startsWith("event.")) return topic === "identity.*" && itemTopic.startsWith("identity.");
  const name = itemTopic.slice("event.".length);
  if (topic === "event.*") return true;
  if (topic === "push.*") return PUSH_EVENTS.has(name);
  if (topic === "inapp.*") return INAPP_EVENTS.has(name);
  return false;
}

/** Whether any of a webhook's topics receives the item. */
export function subscribed(topics: readonly string[], itemTopic: string): boolean {
  return topics.some((t) => topicMatches(t, itemTopic));
}
