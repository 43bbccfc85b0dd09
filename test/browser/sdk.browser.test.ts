import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InitOptions, Op } from "../../sdk/web/src/index";
import {
  createProject,
  launchChromium,
  lookUp,
  newVisitor,
  type ProfileView,
  pageUrl,
  type TestProject,
  workerUrl,
} from "./support";

const BATCH_URL = `${workerUrl}/v1/sdk/batch`;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  chromium = await launchChromium();
  browser = chromium.browser;
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
});
afterAll(async () => {
  await chromium?.close();
});

async function visitor(): Promise<BrowserContext> {
  const context = await newVisitor(browser);
  contexts.push(context);
  return context;
}

type PageOptions = Omit<InitOptions, "endpoint" | "apiKey" | "onError">;

/** Starts the SDK in an already loaded shop page; what it reports through onError lands in `sdkErrors`. */
async function startSdk(page: Page, p: TestProject, options: PageOptions = {}): Promise<string> {
  await page.waitForFunction(() => document.body.dataset.ready === "yes");
  return page.evaluate(
    ({ endpoint, apiKey, options }) => {
      window.sdkErrors = [];
      window.client = window.edgeCdp.init({
        endpoint,
        apiKey,
        ...options,
        onError: (e) => window.sdkErrors.push({ code: e.code, message: e.message }),
      });
      return window.client.installationId;
    },
    { endpoint: workerUrl, apiKey: p.sdkKey, options },
  );
}

/** Opens the customer's page (another origin than the Worker's) and starts the SDK in it. */
async function openShop(context: BrowserContext, p: TestProject, options: PageOptions = {}) {
  const page = await context.newPage();
  await page.goto(pageUrl);
  const installationId = await startSdk(page, p, options);
  return { page, installationId };
}

const storedQueue = (page: Page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem("edge-cdp.queue") ?? "[]") as Op[]);

async function profileOf(p: TestProject, by: "custom_id" | "installation_id", value: string): Promise<ProfileView> {
  const profile = await lookUp(p, by, value);
  if (!profile) throw new Error(`no profile for ${by} ${value}`);
  return profile;
}

describe("web SDK in Chromium, from a page on another origin", () => {
  it("sends attributes, events, identify and logout, with the browser's context", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p);
    expect(new URL(page.url()).origin).not.toBe(new URL(workerUrl).origin);
    const customId = `user-${crypto.randomUUID()}`;

    await page.evaluate(async (customId) => {
      window.client.setAttributes({
        plan: "pro",
        age: 36,
        interests: ["chess"],
        signup: new Date("2026-11-01T10:00:00Z"),
      });
      window.client.track("add_to_cart", { sku: "X1", $label: "checkout" });
      window.client.identify(customId);
      await window.client.flush();
    }, customId);

    const user = await profileOf(p, "custom_id", customId);
    expect(user.installations.map((i) => [i.installation_id, i.platform, i.sdk_version])).toEqual([
      [installationId, "web", "0.1.0"],
    ]);
    expect(user.attributes.plan).toMatchObject({ value: "pro", source: "sdk" });
    expect(user.attributes.age).toMatchObject({ value: 36, source: "sdk" });
    expect(user.attributes.interests).toMatchObject({ value: ["chess"], source: "sdk" });
    expect(user.attributes.signup).toMatchObject({ source: "sdk" });
    // Filled in by the SDK from the browser: fr-FR, Europe/Paris.
    expect(user.attributes.$language).toMatchObject({ value: "fr", source: "sdk_auto" });
    expect(user.attributes.$region).toMatchObject({ value: "FR", source: "sdk_auto" });
    expect(user.attributes.$timezone).toMatchObject({ value: "Europe/Paris", source: "sdk_auto" });
    expect(user.events.map((e) => [e.name, e.attributes])).toEqual([["add_to_cart", { sku: "X1" }]]);
    expect(user.identity_history.map((h) => h.kind)).toContain("sign_in");

    await page.evaluate(async () => {
      window.client.logout();
      window.client.track("browsed");
      await window.client.flush();
    });
    const anonymous = await profileOf(p, "installation_id", installationId);
    expect(anonymous.profile_id).not.toBe(user.profile_id);
    expect(anonymous.custom_id).toBeNull();
    expect(anonymous.events.map((e) => e.name)).toEqual(["browsed"]);
    const left = await profileOf(p, "custom_id", customId);
    expect(left.installations).toEqual([]);
    expect(left.identity_history.map((h) => h.kind)).toContain("logout");
    expect(await page.evaluate(() => window.sdkErrors)).toEqual([]);
  });

  it("refuses placeholder custom IDs in the page, before anything is queued", async () => {
    const p = await createProject();
    const { page } = await openShop(await visitor(), p);
    const refused = await page.evaluate(() =>
      ["NULL", " anonymous ", "[object Object]", "", "0"].map((id) => {
        try {
          window.client.identify(id);
          return "accepted";
        } catch (e) {
          return (e as { code: string }).code;
        }
      }),
    );
    expect(refused).toEqual(Array(5).fill("INVALID_CUSTOM_ID"));
    expect(await storedQueue(page)).toEqual([]);
  });

  it("is the only route a page on another origin may call: the REST API stays closed to browsers", async () => {
    const p = await createProject();
    const { page } = await openShop(await visitor(), p);
    const outcome = await page.evaluate(
      async ({ url, key, project }) => {
        try {
          const res = await fetch(url, { headers: { Authorization: `Bearer ${key}`, "X-Project-Id": project } });
          return `read ${res.status}`;
        } catch (e) {
          return (e as Error).name;
        }
      },
      { url: `${workerUrl}/v1/profiles?custom_id=someone`, key: p.restKey, project: p.projectId },
    );
    expect(outcome).toBe("TypeError");
  });

  it("keeps the installation ID, a UUID, across reloads; another browser gets another", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p);
    expect(installationId).toMatch(UUID_V4);
    await page.reload();
    expect(await startSdk(page, p)).toBe(installationId);
    expect(await page.evaluate(() => localStorage.getItem("edge-cdp.installation_id"))).toBe(installationId);

    const other = await openShop(await visitor(), p);
    expect(other.installationId).toMatch(UUID_V4);
    expect(other.installationId).not.toBe(installationId);
  });

  it("retries a send whose answer was lost with the same op IDs, and the server applies it once", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p, { retryDelayMs: 60_000 });
    const sends: { ids: string[]; answer: unknown }[] = [];
    await page.route(BATCH_URL, async (route) => {
      const ids = (route.request().postDataJSON() as { ops: Op[] }).ops.map((op) => op.id);
      // The request reaches the Worker, which applies it...
      const response = await route.fetch();
      const answer = await response.json();
      sends.push({ ids, answer });
      // ...but the first answer never reaches the page.
      if (sends.length === 1) await route.abort("connectionreset");
      else await route.fulfill({ response });
    });

    const first = await page.evaluate(async () => {
      window.client.track("purchase", { total: 42 });
      window.client.setAttributes({ plan: "gold" });
      return window.client.flush().then(
        () => "delivered",
        () => "failed",
      );
    });
    expect(first).toBe("failed");
    expect(await storedQueue(page)).toHaveLength(2);

    // flush() cuts the backoff short: the retry goes now.
    await page.evaluate(() => window.client.flush());
    expect(sends).toHaveLength(2);
    expect(sends[1]?.ids).toEqual(sends[0]?.ids);
    expect(sends[0]?.answer).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(sends[1]?.answer).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await storedQueue(page)).toEqual([]);

    const profile = await profileOf(p, "installation_id", installationId);
    expect(profile.events.filter((e) => e.name === "purchase").map((e) => e.id)).toEqual([sends[0]?.ids[0]]);
    expect(profile.attributes.plan).toMatchObject({ value: "gold" });
  });

  it("keeps the queue across a reload while offline, then sends it with the ops' own IDs and times", async () => {
    const p = await createProject();
    const context = await visitor();
    const { page, installationId } = await openShop(context, p, { retryDelayMs: 60_000 });

    await context.setOffline(true);
    const outcome = await page.evaluate(async () => {
      window.client.setAttributes({ plan: "offline" });
      window.client.track("read_offline", { article: "a1" });
      return window.client.flush().then(
        () => "delivered",
        () => "failed",
      );
    });
    expect(outcome).toBe("failed");
    const queued = await storedQueue(page);
    expect(queued.map((op) => op.type)).toEqual(["attributes", "event"]);

    // The Worker stays unreachable while the shop's page itself reloads.
    await page.route(`${workerUrl}/**`, (route) => route.abort("internetdisconnected"));
    await context.setOffline(false);
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === "yes");
    expect(await storedQueue(page)).toEqual(queued);

    await page.unroute(`${workerUrl}/**`);
    expect(await startSdk(page, p)).toBe(installationId);
    await page.evaluate(() => window.client.flush());
    expect(await storedQueue(page)).toEqual([]);

    const profile = await profileOf(p, "installation_id", installationId);
    const event = queued[1] as Op;
    expect(profile.events.map((e) => [e.id, e.name, e.time])).toEqual([[event.id, "read_offline", event.time]]);
    expect(profile.attributes.plan).toMatchObject({ value: "offline", updated_at: (queued[0] as Op).time });
  });

  it("sends what is left when the page is hidden (pagehide), without waiting for the batch delay", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p, { flushDelayMs: 600_000 });
    const posts: string[] = [];
    page.on("request", (request) => {
      if (request.url() === BATCH_URL && request.method() === "POST") posts.push(request.postData() ?? "");
    });
    await page.evaluate(() => {
      window.client.track("left_page");
      window.client.setAttributes({ last_page: "checkout" });
    });
    expect(posts).toEqual([]);
    expect(await storedQueue(page)).toHaveLength(2);

    await page.goto("about:blank");
    await expect
      .poll(async () => (await lookUp(p, "installation_id", installationId))?.events.map((e) => e.name), {
        timeout: 20_000,
      })
      .toEqual(["left_page"]);
    expect((await profileOf(p, "installation_id", installationId)).attributes.last_page).toMatchObject({
      value: "checkout",
    });
  });

  it("sends many waiting ops at once in batches of at most 100, in order", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p, { flushDelayMs: 600_000 });
    const sizes: number[] = [];
    const accepted: number[] = [];
    await page.route(BATCH_URL, async (route) => {
      sizes.push((route.request().postDataJSON() as { ops: Op[] }).ops.length);
      const response = await route.fetch();
      accepted.push(((await response.json()) as { accepted: number }).accepted);
      await route.fulfill({ response });
    });
    await page.evaluate(async () => {
      for (let i = 0; i < 150; i++) window.client.track("viewed", { index: i });
      window.client.setAttributes({ last_index: 149 });
      // No flush(): a full batch is sent without waiting for the (ten-minute) delay.
      await new Promise<void>((resolve) => {
        const check = () => (localStorage.getItem("edge-cdp.queue") === null ? resolve() : setTimeout(check, 20));
        check();
      });
    });
    expect(sizes).toEqual([100, 51]);
    expect(accepted).toEqual([100, 51]);
    // The view holds the 50 most recent events.
    const profile = await profileOf(p, "installation_id", installationId);
    expect(profile.events.filter((e) => e.name === "viewed")).toHaveLength(50);
    expect(profile.attributes.last_index).toMatchObject({ value: 149 });
  });

  it("drops an op the server refuses for good, reports it, and delivers the rest of its batch", async () => {
    const p = await createProject();
    const { page, installationId } = await openShop(await visitor(), p);
    await page.evaluate(async () => {
      window.client.track("first");
      window.client.track("Not a valid name!");
      window.client.setAttributes({ plan: "kept" });
      await window.client.flush();
    });
    const errors = await page.evaluate(() => window.sdkErrors);
    expect(errors).toEqual([{ code: "VALIDATION_FAILED", message: expect.stringContaining("Event names") }]);
    const profile = await profileOf(p, "installation_id", installationId);
    expect(profile.events.map((e) => e.name)).toEqual(["first"]);
    expect(profile.attributes.plan).toMatchObject({ value: "kept" });
    expect(await storedQueue(page)).toEqual([]);
  });
});
