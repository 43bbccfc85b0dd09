import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { BASE, call, errorOf, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

/** An audience as the API shows it. */
export interface AudienceBody {
  name: string;
  type: "custom_ids" | "installation_ids";
  description: string | null;
  size: number;
  created_at: string;
  updated_at: string;
}

let counter = 0;
/** An audience name no other test in the file uses. */
export const freshName = (label: string) => `${label}-${++counter}`;

export async function createAudience(
  p: Project,
  name: string,
  type: AudienceBody["type"] = "custom_ids",
  description?: string,
): Promise<AudienceBody> {
  const res = await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type, description } });
  expect(res.status).toBe(201);
  return res.json<AudienceBody>();
}

/** PUT with a CSV body, sent whole. */
export function putCsv(p: Project, name: string, csv: string, headers: Record<string, string> = {}) {
  return call("PUT", `/v1/audiences/${name}`, {
    headers: { ...restHeaders(p), "Content-Type": "text/csv", ...headers },
    raw: csv,
  });
}

/** PUT with a CSV body that arrives as a stream of the given chunks. */
export function putCsvStream(p: Project, name: string, body: ReadableStream<Uint8Array>, headers = {}) {
  return exports.default.fetch(
    new Request(`${BASE}/v1/audiences/${name}`, {
      method: "PUT",
      headers: { ...restHeaders(p), "Content-Type": "text/csv", ...headers },
      body,
    }),
  );
}

/** A stream of `count` lines `${prefix}${i}`, in chunks of about 64 KiB, generated as it is read. */
export function generatedCsv(count: number, prefix: string, header = "custom_id"): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  let headerSent = false;
  return new ReadableStream({
    pull(controller) {
      const lines: string[] = headerSent ? [] : [header];
      headerSent = true;
      while (next < count && lines.length < 4000) lines.push(`${prefix}${next++}`);
      controller.enqueue(encoder.encode(`${lines.join("\r\n")}\r\n`));
      if (next >= count) controller.close();
    },
  });
}

export function putJson(p: Project, name: string, body: unknown) {
  return call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body });
}

export function patch(p: Project, name: string, body: unknown) {
  return call("PATCH", `/v1/audiences/${name}`, { headers: restHeaders(p), body });
}

export async function getAudience(p: Project, name: string): Promise<AudienceBody> {
  const res = await call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) });
  expect(res.status).toBe(200);
  return res.json<AudienceBody>();
}

/** The audience's members as the segment engine sees them: rows of the audience's current generation. */
export async function membersOf(p: Project, name: string): Promise<string[]> {
  const { results } = await (await shardDb(p.projectId))
    .prepare(
      `SELECT m.member FROM audience_members m JOIN audiences a
       ON a.project_id = m.project_id AND a.name = m.audience AND a.generation = m.generation
     WHERE m.project_id = ? AND m.audience = ? ORDER BY m.member`,
    )
    .bind(p.projectId, name)
    .all<{ member: string }>();
  return results.map((r) => r.member);
}

/** Every member row of the audience, whatever its generation: count per generation. */
export async function rowsByGeneration(p: Project, name: string): Promise<Record<number, number>> {
  const { results } = await (await shardDb(p.projectId))
    .prepare(
      "SELECT generation, count(*) AS n FROM audience_members WHERE project_id = ? AND audience = ? GROUP BY generation",
    )
    .bind(p.projectId, name)
    .all<{ generation: number; n: number }>();
  return Object.fromEntries(results.map((r) => [r.generation, r.n]));
}

/** The audience row in D1, or null. */
export async function audienceRow(p: Project, name: string) {
  return (await shardDb(p.projectId))
    .prepare("SELECT * FROM audiences WHERE project_id = ? AND name = ?")
    .bind(p.projectId, name)
    .first<{ generation: number; size: number; updated_at: string; description: string | null; type: string }>();
}

/**
 * The audience holds exactly `members` (sorted), its size says so, and no row of another
 * generation is left in audience_members.
 */
export async function expectMembers(p: Project, name: string, members: string[]) {
  const row = await audienceRow(p, name);
  expect(row).not.toBeNull();
  expect(await membersOf(p, name)).toEqual([...members].sort());
  expect(row?.size).toBe(members.length);
  expect((await getAudience(p, name)).size).toBe(members.length);
  const generations = await rowsByGeneration(p, name);
  expect(Object.keys(generations).map(Number)).toEqual(members.length ? [row?.generation] : []);
}

/** Asserts the envelope with this status and code; returns it. */
export async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

/** An audience holding `members`, and a snapshot to compare with after a refused request. */
export async function seededAudience(
  p: Project,
  members: string[],
  type: "custom_ids" | "installation_ids" = "custom_ids",
) {
  const name = freshName("seeded");
  await createAudience(p, name, type);
  expect((await putJson(p, name, { ids: members })).status).toBe(200);
  return { name, before: await getAudience(p, name) };
}
