import { fromBase64Url } from "./secrets";

/** A browser's PushSubscription as the SDK sends it (`subscription.toJSON()`). */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/**
 * The push services browsers subscribe with (Chrome/Edge via FCM, Firefox, Safari, Windows).
 * An endpoint elsewhere could make us POST to any host on a caller's say-so.
 */
const PUSH_SERVICE_HOSTS = [
  "fcm.googleapis.com",
  "android.googleapis.com",
  "updates.push.services.mozilla.com",
  "push.services.mozilla.com",
  "web.push.apple.com",
  "push.apple.com",
  "notify.windows.com",
];

export function isKnownPushService(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return PUSH_SERVICE_HOSTS.some((known) => host === known || host.endsWith(`.${known}`));
}

/** Whether an endpoint is a local push service (`http://127.0.0.1[:port]/…`, development only). */
export function isLocalPushService(url: URL): boolean {
  return url.protocol === "http:" && url.hostname === "127.0.0.1";
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function decodedLength(value: unknown): number {
  if (typeof value !== "string" || !BASE64URL.test(value)) return -1;
  try {
    return fromBase64Url(value.replace(/=+$/, "")).length;
  } catch {
    return -1;
  }
}

/**
 * Parses a `push_token` op's token for `provider: "webpush"`: the PushSubscription JSON, with an
 * endpoint on a known push service over https, or a local one (allowed or not by the caller,
 * who knows ALLOW_HTTP_WEBHOOKS). Returns the subscription or what is wrong with it.
 */
export function parseSubscription(token: string): WebPushSubscription | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    return { problem: "A webpush token is the PushSubscription as JSON: {endpoint, keys: {p256dh, auth}}." };
  }
  const sub = value as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | null;
  if (
    !sub ||
    typeof sub !== "object" ||
    typeof sub.endpoint !== "string" ||
    !sub.keys ||
    typeof sub.keys !== "object"
  ) {
    return { problem: "A webpush token is the PushSubscription as JSON: {endpoint, keys: {p256dh, auth}}." };
  }
  let url: URL;
  try {
    url = new URL(sub.endpoint);
  } catch {
    return { problem: "The subscription's endpoint is not a URL." };
  }
  if (url.username || url.password) return { problem: "The subscription's endpoint may not carry credentials." };
  if (!(url.protocol === "https:" && isKnownPushService(url.hostname)) && !isLocalPushService(url)) {
    return { problem: "The subscription's endpoint must be https:// on a known push service." };
  }
  if (decodedLength(sub.keys.p256dh) !== 65 || fromBase64Url(String(sub.keys.p256dh).replace(/=+$/, ""))[0] !== 4) {
    return { problem: "keys.p256dh must be the subscription's P-256 public key (65 bytes, base64url)." };
  }
  if (decodedLength(sub.keys.auth) !== 16) return { problem: "keys.auth must be 16 bytes, base64url." };
  return { endpoint: url.href, keys: { p256dh: String(sub.keys.p256dh), auth: String(sub.keys.auth) } };
}

/** The subscription in the one form we store, so the same subscription is always the same token. */
export function subscriptionToken(sub: WebPushSubscription): string {
  return JSON.stringify({ endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } });
}

/**
 * What a transactional send's `recipients.tokens` names an installation's push token by (SPEC
 * §10): a Web Push subscription's endpoint URL, or the token itself (FCM and others). The
 * projection indexes it, so a raw token finds its installation.
 */
export function pushTokenKey(provider: string | null, token: string | null): string | null {
  if (!token) return null;
  if (provider !== "webpush") return token;
  try {
    const endpoint = (JSON.parse(token) as { endpoint?: unknown }).endpoint;
    return typeof endpoint === "string" ? endpoint : null;
  } catch {
    return null;
  }
}
