/**
 * What the Profile API error tests (update.invalid-op, update.partial-errors, update.request) share.
 * A test file that imports it gets its own project `p`, created before its tests: each test file
 * runs with its own instance of this module.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";

export const MiB = 1024 * 1024;
export const DAY = 24 * 3600 * 1000;

/** The same helper as update.happy.test.ts; importing it from there would run that file's tests here too. */
export function update(
  project: Project,
  operations: unknown,
  path = "/v1/profiles/update",
  headers = restHeaders(project),
) {
  return call("POST", path, { headers, body: operations });
}

export let p: Project;

beforeAll(async () => {
  p = await createProject();
});

let counter = 0;
/** A custom ID no other test in this file uses. */
export const freshId = (label: string) => `err-${label}-${++counter}`;

export async function requestRows(): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM requests").first<{ n: number }>();
  return row?.n ?? -1;
}

export async function expectNoProfile(customId: string) {
  const { status } = await profileBy(p, { custom_id: customId });
  expect(status).toBe(404);
}

/** Sends a request that must be refused as a whole with `status` and `code`; returns the envelope. */
export async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

export const attrs = (n: number, prefix = "a") =>
  Object.fromEntries(Array.from({ length: n }, (_, k) => [`${prefix}${k}`, k]));
