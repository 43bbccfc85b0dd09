/** What the look-alike tests (lookalikes.refused, lookalikes.normalization) share. */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { BASE, call, errorOf, type Project, restHeaders } from "../support/harness";
import { customIdStub, profileBy } from "../support/identity";

export const NUM_RUNS = 30;
export const TEST_TIMEOUT = 60_000;

/** SPEC §2, as written there (lower case). */
export const PLACEHOLDERS = [
  "anonymous",
  "guest",
  "null",
  "none",
  "nil",
  "undefined",
  "nan",
  "0",
  "-1",
  "true",
  "false",
  "id",
  "user",
  "email",
  "distinct_id",
  "not_authenticated",
  "[object object]",
];

export interface LookAlike {
  /** What is sent. */
  value: string;
  /** The ID a person reads in it, when that ID is not itself refused. */
  readAs: string | null;
}

/** No profile exists for the look-alike: not under it, its NFC form, nor the ID a person reads in it. */
export async function assertNoProfile(p: Project, l: LookAlike) {
  expect(await customIdStub(p.projectId, l.value).view()).toBeNull();
  expect(await customIdStub(p.projectId, l.value.normalize("NFC")).view()).toBeNull();
  if (l.readAs !== null) expect((await profileBy(p, { custom_id: l.readAs })).status).toBe(404);
  // The read API refuses the look-alike itself as the writes do.
  const read = await call("GET", `/v1/profiles?${new URLSearchParams({ custom_id: l.value })}`, {
    headers: restHeaders(p),
  });
  expect(read.status).toBe(400);
  expect((await errorOf(read)).code).toBe("INVALID_CUSTOM_ID");
}

export async function createAudience(p: Project, name: string) {
  const res = await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type: "custom_ids" } });
  expect(res.status).toBe(201);
}

/** Every value quoted: inside quotes a CSV cell is kept as is, so its whitespace reaches the check. */
const csvOf = (ids: string[]) => ["custom_id", ...ids.map((id) => `"${id.replaceAll('"', '""')}"`)].join("\r\n");

export function replace(p: Project, name: string, format: "json" | "csv", ids: string[]): Promise<Response> {
  if (format === "json") return call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } });
  return exports.default.fetch(
    new Request(`${BASE}/v1/audiences/${name}`, {
      method: "PUT",
      headers: { ...restHeaders(p), "Content-Type": "text/csv" },
      body: csvOf(ids),
    }),
  );
}
