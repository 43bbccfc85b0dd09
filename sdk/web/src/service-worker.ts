/**
 * The SDK's service worker, served by the site as `/edge-cdp-sw.js` (SPEC §10): shows each push
 * as a notification and, on a click, reports `push_opened` with the message's token and opens
 * its deeplink. `subscribePush` registers it with the endpoint, the SDK key and the
 * installation ID in its URL.
 */

// The DOM lib is what the SDK compiles against; the few worker globals used here are typed by hand.
interface PushPayload {
  title?: string;
  body?: string;
  deeplink?: string;
  icon?: string;
  image?: string;
  transactional_token?: string;
  campaign_token?: string;
}
interface WorkerScope {
  location: Location;
  registration: ServiceWorkerRegistration;
  clients: { openWindow(url: string): Promise<unknown> };
  // biome-ignore lint/suspicious/noExplicitAny: each listener below types the event it is given.
  addEventListener(type: string, listener: (event: any) => void): void;
}
declare const self: WorkerScope;

const params = new URL(self.location.href).searchParams;

self.addEventListener("push", (event: { data?: { json(): unknown }; waitUntil(p: Promise<unknown>): void }) => {
  const payload = (event.data?.json() ?? {}) as PushPayload;
  event.waitUntil(
    self.registration.showNotification(payload.title ?? "", {
      body: payload.body,
      icon: payload.icon,
      data: payload,
      ...(payload.image ? { image: payload.image } : {}),
    } as NotificationOptions),
  );
});

/** Reports the open as a `push_opened` op, with the token of the message that was opened. */
export function reportOpened(payload: PushPayload): Promise<Response> {
  const op: Record<string, string> = { id: crypto.randomUUID(), type: "push_opened" };
  if (payload.transactional_token) op.transactional_token = payload.transactional_token;
  if (payload.campaign_token) op.campaign_token = payload.campaign_token;
  return fetch(`${params.get("endpoint")}/v1/sdk/batch`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Api-Key": params.get("api_key") ?? "" },
    body: JSON.stringify({ installation_id: params.get("installation_id"), ops: [op] }),
  });
}

self.addEventListener(
  "notificationclick",
  (event: { notification: Notification; waitUntil(p: Promise<unknown>): void }) => {
    event.notification.close();
    const payload = (event.notification.data ?? {}) as PushPayload;
    event.waitUntil(
      Promise.all([reportOpened(payload), payload.deeplink ? self.clients.openWindow(payload.deeplink) : undefined]),
    );
  },
);
