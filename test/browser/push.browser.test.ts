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
});
