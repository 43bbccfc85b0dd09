import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createProject,
  launchChromium,
  lookUp,
  type ProfileView,
  sdkBatch,
  type TestProject,
  workerUrl,
} from "./support";

const SCREENSHOTS = path.resolve(import.meta.dirname, "../../test-results");

let chromium: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;
let p: TestProject;
let user: ProfileView;
const customId = `ada-${crypto.randomUUID().slice(0, 8)}`;
const phone = crypto.randomUUID();
const laptop = crypto.randomUUID();

beforeAll(async () => {
  chromium = await launchChromium();
  browser = chromium.browser;
  await mkdir(SCREENSHOTS, { recursive: true });
  p = await createProject();
  // The phone signs in, the laptop logs in as the same user, then the phone logs out.
  await sdkBatch(p, phone, [
    { id: "p1", type: "attributes", attributes: { plan: "pro", "date(last_purchase)": "2026-11-20T15:00:00Z" } },
    { id: "p2", type: "event", name: "add_to_cart", attributes: { sku: "X1", price: 19.9 } },
    { id: "p3", type: "identify", custom_id: customId },
  ]);
  await sdkBatch(p, laptop, [
    // A PushSubscription as a browser gives it (the key values need only their shape here).
    {
      id: "l1",
      type: "push_token",
      provider: "webpush",
      token: JSON.stringify({
        endpoint: "https://updates.push.services.mozilla.com/wpush/v2/abc123def456",
        keys: { p256dh: `B${"A".repeat(86)}`, auth: "A".repeat(22) },
      }),
    },
    { id: "l2", type: "push_optin", opted_in: true },
    { id: "l3", type: "identify", custom_id: customId },
    { id: "l4", type: "event", name: "validated_purchase", attributes: { total: 42.5 } },
    { id: "l5", type: "attributes", attributes: { $email_address: "ada@example.com", interests: ["maths", "chess"] } },
  ]);
  await sdkBatch(p, phone, [{ id: "p4", type: "logout" }]);
  const found = await lookUp(p, "custom_id", customId);
  if (!found) throw new Error("the seeded profile is missing");
  user = found;
  // A profile ID is found through the projection, which the queue fills a moment later.
  await vi.waitFor(
    async () => {
      if (!(await lookUp(p, "profile_id", user.profile_id))) throw new Error("not projected yet");
    },
    { timeout: 30_000, interval: 250 },
  );
});
afterAll(async () => {
  await chromium?.close();
});

/** Opens the debugger and enters the project's credentials, as a person would. */
async function openDebugger(viewport = { width: 1280, height: 900 }, key = p.restKey) {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "UTC" });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`${message.text()} ${message.location().url}`);
  });
  page.on("pageerror", (error) => problems.push(error.message));
  const urls: string[] = [];
  page.on("request", (request) => urls.push(request.url()));
  await page.goto(`${workerUrl}/debug`);
  await page.fill("#project-id", p.projectId);
  await page.fill("#rest-key", key);
  await page.click("#credentials button[type=submit]");
  return { page, problems, urls, close: () => context.close() };
}

async function lookUpIn(page: Page, kind: string, value: string) {
  await page.selectOption("#kind", kind);
  await page.fill("#identifier", value);
  await page.click("#lookup button[type=submit]");
}

const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();

describe("profile debugger (GET /debug) in Chromium", () => {
  it("looks a profile up by custom ID, installation ID and profile ID and shows all of it", async () => {
    const { page, problems, close } = await openDebugger();

    await lookUpIn(page, "custom_id", customId);
    await page.locator("#history").waitFor();
    const identifiers = await page.locator("#identifiers").textContent();
    expect(identifiers).toContain(user.profile_id);
    expect(identifiers).toContain(customId);
    expect(identifiers).toContain("active");

    const installations = await texts(page, "#installations tbody tr");
    expect(installations).toHaveLength(1);
    expect(installations[0]).toContain(laptop);
    expect(installations[0]).toContain("web");
    expect(installations[0]).toContain("opted in");
    expect(installations[0]).toContain("webpush");

    const attributes = await page.$$eval("#attributes tbody tr", (rows) =>
      rows.map((row) => Array.from((row as HTMLTableRowElement).cells, (cell) => cell.textContent)),
    );
    const updated = (name: string) => user.attributes[name]?.updated_at.replace("T", " ").replace(/\.\d+Z$/, " UTC");
    expect(attributes).toEqual([
      ["$email_address", "string", "ada@example.com", "sdk", updated("$email_address")],
      ["interests", "array", '["maths","chess"]', "sdk", updated("interests")],
      ["last_purchase", "date", "2026-11-20T15:00:00.000Z", "sdk", updated("last_purchase")],
      ["plan", "string", "pro", "sdk", updated("plan")],
    ]);
    expect(await texts(page, "#events .event-head strong")).toEqual(["validated_purchase", "add_to_cart"]);

    // The identity history as a timeline, oldest first.
    const timeline = await texts(page, "#history ol.timeline li .kind");
    expect(timeline).toEqual(user.identity_history.map((h) => h.kind.replace(/_/g, " ")));
    expect(timeline).toEqual(expect.arrayContaining(["sign in", "login", "logout"]));
    expect(timeline.indexOf("sign in")).toBeLessThan(timeline.indexOf("login"));
    expect(timeline.indexOf("login")).toBeLessThan(timeline.indexOf("logout"));

    await page.screenshot({ path: path.join(SCREENSHOTS, "debugger.png"), fullPage: true });

    for (const [kind, value] of [
      ["installation_id", laptop],
      ["profile_id", user.profile_id],
    ] as const) {
      await lookUpIn(page, kind, value);
      await expect.poll(() => page.locator("#status").textContent()).toBe("");
      expect(await page.locator("#identifiers").textContent()).toContain(user.profile_id);
      expect(await texts(page, "#history ol.timeline li .kind")).toEqual(timeline);
    }

    // An installation in the timeline is a link to its own profile: the phone, now anonymous.
    await page.locator("#history .id-link", { hasText: phone }).first().click();
    await expect.poll(() => page.locator("#identifiers").textContent()).toContain("anonymous");
    expect(await page.locator("#identifiers").textContent()).not.toContain(user.profile_id);

    expect(problems).toEqual([]);
    await close();
  });

  it("says in words what went wrong: 401, 404, 400 and 409", async () => {
    const wrong = await openDebugger(undefined, `${p.restKey}x`);
    await lookUpIn(wrong.page, "custom_id", customId);
    await expect.poll(() => wrong.page.locator("#status").textContent()).toContain("REST API key is wrong (401)");
    expect(await wrong.page.locator("#profile").isHidden()).toBe(true);
    await wrong.close();

    const { page, close } = await openDebugger();
    await lookUpIn(page, "custom_id", "nobody-here");
    await expect
      .poll(() => page.locator("#status").textContent())
      .toBe('No profile has the custom ID "nobody-here" (404).');

    await lookUpIn(page, "custom_id", "null");
    await expect.poll(() => page.locator("#status").textContent()).toContain("The custom ID is not valid.");
    expect(await page.locator("#status").textContent()).toContain("placeholder");

    await lookUpIn(page, "installation_id", "not-a-uuid");
    await expect.poll(() => page.locator("#status").textContent()).toContain("An installation ID is a UUID.");

    // The lookup never answers 409 today; the page's wording for it is checked with a made-up answer.
    await page.route(`${workerUrl}/v1/profiles?*`, (route) =>
      route.fulfill({
        status: 409,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "CONFLICT", message: "Busy moving.", request_id: "r1" } }),
      }),
    );
    await lookUpIn(page, "custom_id", customId);
    await expect
      .poll(() => page.locator("#status").textContent())
      .toBe("The request contradicts the identity rules (409). Busy moving.");
    await close();
  });

  it("keeps the key in the tab only: never in a URL, not in localStorage, not in another tab", async () => {
    const { page, urls, close } = await openDebugger();
    await lookUpIn(page, "custom_id", customId);
    await page.locator("#history").waitFor();
    expect(urls.some((url) => url.includes(p.restKey) || url.includes(encodeURIComponent(p.restKey)))).toBe(false);
    expect(page.url()).toBe(`${workerUrl}/debug`);
    const storage = await page.evaluate(() => ({
      session: Object.values(sessionStorage).join(" "),
      local: Object.values(localStorage).join(" "),
    }));
    expect(storage.session).toContain(p.restKey);
    expect(storage.local).not.toContain(p.restKey);
    // The key field is cleared once used.
    expect(await page.inputValue("#rest-key")).toBe("");

    // A reload of the tab keeps it; another tab starts without it.
    await page.reload();
    await lookUpIn(page, "profile_id", user.profile_id);
    await page.locator("#history").waitFor();
    const other = await page.context().newPage();
    await other.goto(`${workerUrl}/debug`);
    await lookUpIn(other, "profile_id", user.profile_id);
    await expect.poll(() => other.locator("#status").textContent()).toContain("Enter the project ID");

    await page.click("#forget");
    await lookUpIn(page, "profile_id", user.profile_id);
    await expect.poll(() => page.locator("#status").textContent()).toContain("Enter the project ID");
    await close();
  });

  it("is usable on a phone: nothing wider than the screen", async () => {
    const { page, problems, close } = await openDebugger({ width: 390, height: 844 });
    await lookUpIn(page, "custom_id", customId);
    await page.locator("#history").waitFor();
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      screen: document.documentElement.clientWidth,
    }));
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    await page.screenshot({ path: path.join(SCREENSHOTS, "debugger-phone.png"), fullPage: true });
    expect(problems).toEqual([]);
    await close();
  });
});
