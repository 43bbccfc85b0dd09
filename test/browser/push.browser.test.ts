import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProject, launchChromium, lookUp, newVisitor, pageUrl, workerUrl } from "./support";

let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;

beforeAll(async () => {
  chromium = await launchChromium();
  browser = chromium.browser;
});
afterAll(async () => {
  await chromium?.close();
});

describe("subscribePush() in Chromium", () => {
  it("subscribes with the project's VAPID key and stores the subscription and the opt-in", async () => {
    const p = await createProject();
    const context = await newVisitor(browser);
    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => document.body.dataset.ready === "yes");
    // No push service is reachable offline: the page's PushManager and permission are stubbed,
    // the rest (push-config over CORS, the ops, the batch) is real.
    const result = await page.evaluate(
      async ({ endpoint, apiKey }) => {
        const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
          "deriveBits",
        ])) as CryptoKeyPair;
        const b64 = (bytes: ArrayBuffer | Uint8Array) =>
          btoa(String.fromCharCode(...new Uint8Array(bytes)))
            .replace(/\+/g, "-")
            .replace(/\//g, "_")
            .replace(/=+$/, "");
        const p256dh = b64(await crypto.subtle.exportKey("raw", pair.publicKey));
        const auth = b64(crypto.getRandomValues(new Uint8Array(16)));
        const asked: { key?: string; script?: string } = {};
        Object.defineProperty(Notification, "requestPermission", { value: async () => "granted" });
        Object.defineProperty(navigator, "serviceWorker", {
          value: {
            register: async (script: string) => {
              asked.script = script;
              return {
                pushManager: {
                  getSubscription: async () => null,
                  subscribe: async (options: { applicationServerKey: Uint8Array }) => {
                    asked.key = b64(options.applicationServerKey);
                    return {
                      toJSON: () => ({
                        endpoint: "https://fcm.googleapis.com/fcm/send/browser-1",
                        keys: { p256dh, auth },
                      }),
                    };
                  },
                },
              };
            },
          },
        });
        const client = window.edgeCdp.init({ endpoint, apiKey, flushDelayMs: 10 });
        const subscription = await client.subscribePush();
        await client.flush();
        return { asked, installationId: client.installationId, subscribed: subscription !== null };
      },
      { endpoint: workerUrl, apiKey: p.sdkKey },
    );
    expect(result.subscribed).toBe(true);
    const config = await fetch(`${workerUrl}/v1/sdk/push-config`, { headers: { "X-Api-Key": p.sdkKey } });
    const { vapid_public_key } = (await config.json()) as { vapid_public_key: string };
    expect(result.asked.key).toBe(vapid_public_key);
    expect(new URL(result.asked.script ?? "").searchParams.get("installation_id")).toBe(result.installationId);
    const view = await lookUp(p, "installation_id", result.installationId);
    const push = (
      view as unknown as { installations: { push: { provider: string; token: string; opted_in: boolean } }[] }
    ).installations[0]?.push;
    expect(push?.provider).toBe("webpush");
    expect(push?.opted_in).toBe(true);
    expect(JSON.parse(push?.token ?? "{}").endpoint).toBe("https://fcm.googleapis.com/fcm/send/browser-1");
    await context.close();
  });

  it("registers the real service worker, which shows a push and reports push_opened on a click", async () => {
    const p = await createProject();
    const context = await newVisitor(browser);
    const origin = new URL(pageUrl).origin;
    await context.grantPermissions(["notifications"], { origin });
    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => document.body.dataset.ready === "yes");
    // The service worker is real, as Chromium registers it; only PushManager is stubbed (no push
    // service offline). The push itself is delivered by Chromium's DevTools protocol, as its
    // "Push" button does, so the worker's own push handler shows the notification.
    const installationId = await page.evaluate(
      async ({ endpoint, apiKey }) => {
        const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
          "deriveBits",
        ])) as CryptoKeyPair;
        const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
        const b64 = (bytes: Uint8Array) =>
          btoa(String.fromCharCode(...bytes))
            .replace(/\+/g, "-")
            .replace(/\//g, "_")
            .replace(/=+$/, "");
        const json = {
          endpoint: "https://fcm.googleapis.com/fcm/send/browser-2",
          keys: { p256dh: b64(raw), auth: b64(crypto.getRandomValues(new Uint8Array(16))) },
        };
        PushManager.prototype.getSubscription = async () => null;
        PushManager.prototype.subscribe = async () => ({ toJSON: () => json }) as unknown as PushSubscription;
        const client = window.edgeCdp.init({ endpoint, apiKey, flushDelayMs: 10 });
        await client.subscribePush();
        await client.flush();
        await navigator.serviceWorker.ready;
        return client.installationId;
      },
      { endpoint: workerUrl, apiKey: p.sdkKey },
    );
    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
    expect(new URL(worker.url()).searchParams.get("installation_id")).toBe(installationId);

    const cdp = await context.newCDPSession(page);
    const registrationId = new Promise<string>((resolve) => {
      cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
        const mine = registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted);
        if (mine) resolve(mine.registrationId);
      });
    });
    await cdp.send("ServiceWorker.enable");
    const token = crypto.randomUUID();
    const payload = { title: "Your order", body: "It has shipped", transactional_token: token };
    await cdp.send("ServiceWorker.deliverPushMessage", {
      origin,
      registrationId: await registrationId,
      data: JSON.stringify(payload),
    });
    // The click: Chromium headless shows no notification to click, so the worker is handed the
    // notificationclick event for the notification its push handler showed.
    const shown = await worker.evaluate(async () => {
      const scope = self as unknown as ServiceWorkerGlobalScope;
      let notes: Notification[] = [];
      for (let i = 0; i < 50 && notes.length === 0; i++) {
        notes = await scope.registration.getNotifications();
        if (notes.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      const note = notes[0];
      if (!note) return null;
      // The event is synthetic, so nothing keeps the worker alive for the handler's report:
      // the evaluation waits for the report's answer instead.
      const realFetch = scope.fetch.bind(scope);
      const answered = new Promise<string>((resolve) => {
        scope.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
          const response = await realFetch(input, init);
          resolve(`${response.status} ${await response.clone().text()} ${init?.body}`);
          return response;
        };
      });
      scope.dispatchEvent(new NotificationEvent("notificationclick", { notification: note }));
      const report = await Promise.race([answered, new Promise((r) => setTimeout(() => r("no report"), 10_000))]);
      return { title: note.title, body: note.body, report };
    });
    expect(shown).toMatchObject({ title: "Your order", body: "It has shipped" });
    expect(shown?.report).toMatch(/^200 .*"accepted":1/);
    const sent = JSON.parse(String(shown?.report).replace(/^200 \{.*?\} /, "")) as {
      installation_id: string;
      ops: { type: string; transactional_token: string }[];
    };
    expect(sent.installation_id).toBe(installationId);
    expect(sent.ops).toEqual([expect.objectContaining({ type: "push_opened", transactional_token: token })]);
    await context.close();
  });
});
