import { encryptNotification, type PushSubscription, vapidHeaders } from "@block65/webcrypto-web-push";
import { fromBase64Url, toBase64Url } from "../secrets";
import { isLocalPushService, parseSubscription, type WebPushSubscription } from "../subscription";
import type { Vapid } from "../vapid";
import { type Channel, type OutgoingMessage, outcomeOfStatus, type SendOutcome } from "./channel";

/**
 * The payload the service worker reads (SPEC §10): `{title, body, deeplink?, icon?, image?,
 * data?, transactional_token | campaign_token}`.
 */
export function webPushPayload(message: OutgoingMessage): Record<string, unknown> {
  return {
    title: message.title,
    body: message.body,
    ...(message.deeplink === undefined ? {} : { deeplink: message.deeplink }),
    ...(message.icon === undefined ? {} : { icon: message.icon }),
    ...(message.image === undefined ? {} : { image: message.image }),
    ...(message.data === undefined ? {} : { data: message.data }),
    [message.tokenField]: message.token,
  };
}

/**
 * The largest payload one aes128gcm record of 4,096 bytes carries (RFC 8291 §4): the header
 * (86 bytes), the padding delimiter and the tag (17) come off. The library refuses more.
 */
export const MAX_WEBPUSH_PAYLOAD_BYTES = 4096 - 86 - 17;

/**
 * The VAPID header for a local push service (`http://127.0.0.1`, development only): the library
 * signs for https endpoints alone, as RFC 8030 wants, so this signs the same ES256 JWT itself.
 */
async function localVapidHeader(endpoint: URL, vapid: Vapid): Promise<string> {
  const point = fromBase64Url(vapid.publicKey);
  const key = await crypto.subtle.importKey(
    "jwk",
    {
      kty: "EC",
      crv: "P-256",
      x: toBase64Url(point.slice(1, 33)),
      y: toBase64Url(point.slice(33, 65)),
      d: vapid.privateKey,
    },
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const encode = (value: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(value)));
  const claims = { aud: endpoint.origin, exp: Math.floor(Date.now() / 1000) + 12 * 3600, sub: vapid.subject };
  const unsigned = `${encode({ typ: "JWT", alg: "ES256" })}.${encode(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    new TextEncoder().encode(unsigned),
  );
  return `vapid t=${unsigned}.${toBase64Url(new Uint8Array(signature))}, k=${vapid.publicKey}`;
}

/**
 * A VAPID JWT is good for 12 hours; one is reused for an hour per key pair, contact and push
 * service, so a send signs once an hour per push service rather than once per delivery.
 */
const VAPID_REUSE_MS = 3_600_000;
/** At most this many headers are kept in the isolate: a few push services per project. */
const VAPID_CACHE_SIZE = 1000;
const vapidCache = new Map<string, { header: string; until: number }>();

async function vapidAuthorization(
  endpoint: URL,
  subscription: PushSubscription,
  vapid: Vapid,
  local: boolean,
): Promise<string> {
  const key = `${vapid.publicKey} ${vapid.subject} ${endpoint.origin}`;
  const now = Date.now();
  const kept = vapidCache.get(key);
  if (kept && kept.until > now) return kept.header;
  const header = local
    ? await localVapidHeader(endpoint, vapid)
    : (await vapidHeaders(subscription, vapid)).headers.authorization;
  if (vapidCache.size >= VAPID_CACHE_SIZE) vapidCache.clear();
  vapidCache.set(key, { header, until: now + VAPID_REUSE_MS });
  return header;
}

/**
 * Web Push (RFC 8030) with aes128gcm encryption (RFC 8291) and VAPID (RFC 8292), through
 * @block65/webcrypto-web-push (docs/decisions.md, "Web Push library"). The address is the
 * stored PushSubscription JSON.
 */
export class WebPushChannel implements Channel {
  constructor(
    private readonly vapid: Vapid,
    private readonly allowLocal: boolean,
  ) {}

  async send(address: string, message: OutgoingMessage): Promise<SendOutcome> {
    const parsed = parseSubscription(address);
    if ("problem" in parsed) return { status: "token_gone", reason: "invalid_subscription" };
    const sub: WebPushSubscription = parsed;
    const endpoint = new URL(sub.endpoint);
    const local = isLocalPushService(endpoint);
    if (local && !this.allowLocal) return { status: "error", reason: "endpoint_not_allowed" };
    const plaintext = new TextEncoder().encode(JSON.stringify(webPushPayload(message)));
    if (plaintext.byteLength > MAX_WEBPUSH_PAYLOAD_BYTES) return { status: "error", reason: "payload_too_large" };
    const subscription = { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys };
    const body = await encryptNotification(subscription, plaintext);
    const authorization = await vapidAuthorization(endpoint, subscription, this.vapid, local);
    let response: Response;
    try {
      response = await fetch(sub.endpoint, {
        method: "POST",
        headers: {
          Authorization: authorization,
          TTL: String(message.ttl),
          Urgency: message.priority === "high" ? "high" : "normal",
          "Content-Encoding": "aes128gcm",
          "Content-Type": "application/octet-stream",
        },
        body,
      });
    } catch (error) {
      return { status: "error", reason: `network: ${String(error).slice(0, 200)}`, retryAfter: 30 };
    }
    // The answer's body is not needed; cancel it so the connection is released.
    await response.body?.cancel();
    return outcomeOfStatus(response, "");
  }
}
