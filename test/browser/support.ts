import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { inject } from "vitest";
import type * as Sdk from "../../sdk/web/src/index";

export const workerUrl = inject("workerUrl");
export const pageUrl = inject("pageUrl");
const adminToken = inject("adminToken");

declare global {
  interface Window {
    edgeCdp: typeof Sdk;
    client: Sdk.Client;
    sdkErrors: { code: string; message: string }[];
  }
}

/**
 * Debian's Chromium, headless. Without the background-networking flags it opens connections of
 * its own that the sandboxed network refuses. playwright gives each launch a fresh profile
 * directory (`--user-data-dir`) of its own and deletes it on close.
 */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/** A context as a French visitor in Paris: the SDK's context should say so. */
export function newVisitor(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ locale: "fr-FR", timezoneId: "Europe/Paris" });
}

export interface TestProject {
  projectId: string;
  restKey: string;
  sdkKey: string;
}

async function admin<T>(method: string, route: string, body: unknown): Promise<T> {
  const res = await fetch(`${workerUrl}${route}`, {
    method,
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A project with a web app, created through the admin API of the running Worker. */
export async function createProject(): Promise<TestProject> {
  const project = await admin<{ project_id: string; rest_api_key: string }>("POST", "/v1/admin/projects", {
    name: "Browser test",
  });
  const app = await admin<{ sdk_api_key: string }>("POST", `/v1/admin/projects/${project.project_id}/apps`, {
    name: "Web",
    platform: "web",
  });
  return { projectId: project.project_id, restKey: project.rest_api_key, sdkKey: app.sdk_api_key };
}

export interface ProfileView {
  profile_id: string;
  custom_id: string | null;
  installations: { installation_id: string; platform: string | null; sdk_version: string | null }[];
  attributes: Record<string, { value: unknown; source: string; updated_at: string }>;
  events: { id: string; name: string; time: string; attributes: Record<string, unknown> }[];
  identity_history: { kind: string; installation_id: string | null; custom_id: string | null; source: string }[];
}

/** The REST debug view (`GET /v1/profiles?…`), or null on 404. */
export async function lookUp(
  p: TestProject,
  by: "custom_id" | "installation_id" | "profile_id",
  value: string,
): Promise<ProfileView | null> {
  const res = await fetch(`${workerUrl}/v1/profiles?${new URLSearchParams({ [by]: value })}`, {
    headers: { Authorization: `Bearer ${p.restKey}`, "X-Project-Id": p.projectId },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`lookup: ${res.status} ${await res.text()}`);
  return (await res.json()) as ProfileView;
}

/** Sends an SDK batch from Node, as another device would. */
export async function sdkBatch(p: TestProject, installationId: string, ops: object[]): Promise<void> {
  const res = await fetch(`${workerUrl}/v1/sdk/batch`, {
    method: "POST",
    headers: { "X-Api-Key": p.sdkKey, "Content-Type": "application/json" },
    body: JSON.stringify({ installation_id: installationId, ops }),
  });
  if (!res.ok) throw new Error(`batch: ${res.status} ${await res.text()}`);
}
