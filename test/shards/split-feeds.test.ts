import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { AUDIENCE_INBOX_QUEUE } from "../../src/queue/consumer";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { placeOn } from "../support/shards";

/*
 * Flat-file audiences of a project split over three shards: a replace writes its new generation
 * on every shard's copy and switches them all, so each shard joins its profiles with the same
 * members; an add reaches every copy too.
 */

const SHARDS = ["PROJECTION_0", "PROJECTION_1", "PROJECTION_2"];
const d1 = (name: string) => (env as unknown as Record<string, D1Database>)[name] as D1Database;
const fileKey = (p: Project, name: string) => `inbox/${p.projectId}/audiences/${name}.csv`;

/** What R2 sends the queue when an object is written under inbox/. */
async function notify(key: string) {
  const batch = createMessageBatch(AUDIENCE_INBOX_QUEUE, [
    {
      id: crypto.randomUUID(),
      timestamp: new Date(),
      attempts: 1,
      body: { account: "a", bucket: "edge-cdp-exports", action: "PutObject", object: { key, size: 1, eTag: "e" } },
    },
  ]);
  const ctx = createExecutionContext();
  await worker.queue?.(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

/** The current members of the audience on each shard. */
async function copies(p: Project, name: string) {
  const out: string[][] = [];
  for (const s of SHARDS) {
    const { results } = await d1(s)
      .prepare(
        `SELECT m.member FROM audience_members m JOIN audiences a ON a.project_id = m.project_id AND a.name = m.audience
          AND a.generation = m.generation WHERE m.project_id = ? AND m.audience = ? ORDER BY 1`,
      )
      .bind(p.projectId, name)
      .all<{ member: string }>();
    out.push(results.map((r) => r.member));
  }
  return out;
}

async function feedFile(p: Project, name: string, mode: "replace" | "add", text: string) {
  const feed = await call("PUT", `/v1/audience-feeds/${name}`, {
    headers: restHeaders(p),
    body: { header: false, type: "custom_ids", mode },
  });
  expect(feed.status).toBe(200);
  await env.EXPORTS.put(fileKey(p, name), text);
  expect((await notify(fileKey(p, name))).explicitAcks).toHaveLength(1);
}

describe("flat-file audiences on a split project", () => {
  it("a replace, then another, leaves every shard's copy with the file's members", async () => {
    const p = await createProject();
    await placeOn(p.projectId, SHARDS);
    await feedFile(p, "vip", "replace", "u1\nu2\nu3\n");
    expect(await copies(p, "vip")).toEqual(SHARDS.map(() => ["u1", "u2", "u3"]));
    await feedFile(p, "vip", "replace", "u3\nu4\n");
    expect(await copies(p, "vip")).toEqual(SHARDS.map(() => ["u3", "u4"]));
    const read = await call("GET", "/v1/audiences/vip", { headers: restHeaders(p) });
    expect(await read.json()).toMatchObject({ size: 2 });
  });

  it("an add reaches every copy", async () => {
    const p = await createProject();
    await placeOn(p.projectId, SHARDS);
    await feedFile(p, "adds", "add", "a1\na2\n");
    await env.EXPORTS.put(fileKey(p, "adds"), "a3\n");
    expect((await notify(fileKey(p, "adds"))).explicitAcks).toHaveLength(1);
    expect(await copies(p, "adds")).toEqual(SHARDS.map(() => ["a1", "a2", "a3"]));
  });
});
