/**
 * Web Push for the SDK (SPEC §10): subscribes the browser with the project's VAPID key and
 * registers the service worker (`service-worker.ts`) that shows notifications and reports opens.
 */

export interface SubscribePushOptions {
  /** The service worker's script URL on the page's origin (default `/edge-cdp-sw.js`). */
  serviceWorkerUrl?: string;
}

/** What `subscribePush` needs from the client. */
export interface PushContext {
  endpoint: string;
  apiKey: string;
  installationId: string;
  add(fields: { type: string; [field: string]: unknown }): void;
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Asks for notification permission, subscribes with the project's VAPID key and queues the
 * subscription (`push_token`, provider `webpush`) and the opt-in. Resolves to the subscription,
 * or null when the visitor refused (the opt-out is recorded) or the browser has no Web Push.
 */
export async function subscribePush(
  ctx: PushContext,
  options: SubscribePushOptions = {},
): Promise<PushSubscription | null> {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator) || typeof Notification === "undefined") {
    return null;
  }
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    ctx.add({ type: "push_optin", opted_in: false });
    return null;
  }
  const config = await fetch(`${ctx.endpoint}/v1/sdk/push-config`, { headers: { "X-Api-Key": ctx.apiKey } });
  if (!config.ok) throw new Error(`push-config answered ${config.status}`);
  const { vapid_public_key } = (await config.json()) as { vapid_public_key: string };
  // The worker learns where to report opens from its own URL: it cannot read localStorage.
  const script = new URL(options.serviceWorkerUrl ?? "/edge-cdp-sw.js", location.href);
  script.searchParams.set("endpoint", ctx.endpoint);
  script.searchParams.set("api_key", ctx.apiKey);
  script.searchParams.set("installation_id", ctx.installationId);
  const registration = await navigator.serviceWorker.register(script.href);
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(vapid_public_key),
    }));
  ctx.add({ type: "push_token", provider: "webpush", token: JSON.stringify(subscription.toJSON()) });
  ctx.add({ type: "push_optin", opted_in: true });
  return subscription;
}
