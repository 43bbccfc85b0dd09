import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { AUDIENCE_INBOX_QUEUE } from "../../src/queue/consumer";
import { adminHeaders, call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

const fileKey = (p: Project, name: string) => `inbox/${p.projectId}/audiences/${name}.csv`;

async function putFeed(p: Project, name: string, body: Record<string, unknown>) {
  return call("PUT", `/v1/audience-feeds/${name}`, { headers: restHeaders(p), body });
}

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

const audience = async (p: Project, name: string) =>
  (await call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) })).json<{ size: number }>();
const runs = async (p: Project, name: string) =>
  (
    await (
      await call("GET", `/v1/audience-feeds/${name}/runs`, { headers: restHeaders(p) })
    ).json<{
      runs: { status: string; lines: number; ids: number; rejected: number; reason?: string }[];
    }>()
  ).runs;
const members = async (p: Project, name: string) =>
  (
    await (
      await shardDb(p.projectId)
    )
      .prepare(
        "SELECT m.member FROM audience_members m JOIN audiences a ON a.project_id = m.project_id AND a.name = m.audience AND a.generation = m.generation WHERE m.project_id = ? AND m.audience = ? ORDER BY 1",
      )
      .bind(p.projectId, name)
      .all<{ member: string }>()
  ).results.map((r) => r.member);

describe("flat-file audiences", () => {
  it("a notified file is read with its feed's settings, applied, recorded and deleted", async () => {
    const p = await createProject();
    const feed = await putFeed(p, "vip", {
      header: true,
      delimiter: ";",
      column: "user_id",
      type: "custom_ids",
      mode: "replace",
    });
    expect(feed.status).toBe(200);
    expect((await feed.json<{ file: string }>()).file).toBe(fileKey(p, "vip"));
    await env.EXPORTS.put(fileKey(p, "vip"), 'email;user_id\na@x.co;u1\r\n"b;c@x.co";"u2"\n\nz@x.co;null\n');
    const result = await notify(fileKey(p, "vip"));
    expect(result.explicitAcks).toHaveLength(1);
    expect(await members(p, "vip")).toEqual(["u1", "u2"]);
    expect((await runs(p, "vip"))[0]).toMatchObject({ status: "done", lines: 5, ids: 2, rejected: 1 });
    expect(await env.EXPORTS.head(fileKey(p, "vip"))).toBeNull();
  });

  it("a file dropped without a notification is taken by the sweep (admin job and cron), in add mode kept members stay", async () => {
    const p = await createProject();
    await putFeed(p, "adds", { header: false, type: "custom_ids", mode: "add" });
    await env.EXPORTS.put(fileKey(p, "adds"), "a\nb\n");
    const job = await call("POST", "/v1/admin/jobs/audience_inbox", { headers: adminHeaders });
    expect(job.status).toBe(202);
    expect(await members(p, "adds")).toEqual(["a", "b"]);
    await env.EXPORTS.put(fileKey(p, "adds"), "c\n");
    const ctx = createExecutionContext();
    await worker.scheduled?.(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await members(p, "adds")).toEqual(["a", "b", "c"]);
    expect(await env.EXPORTS.head(fileKey(p, "adds"))).toBeNull();
  });

  it("a malformed file ends failed with its reason, leaves its audience as it was, and is deleted", async () => {
    const p = await createProject();
    await putFeed(p, "keep", { header: false, type: "custom_ids", mode: "replace" });
    await env.EXPORTS.put(fileKey(p, "keep"), "x\ny\n");
    await notify(fileKey(p, "keep"));
    for (const [file, reason] of [
      ['p\n"q\nr\n', "quote"],
      ["", "no valid ID"],
    ] as const) {
      await env.EXPORTS.put(fileKey(p, "keep"), file);
      await notify(fileKey(p, "keep"));
      expect((await runs(p, "keep"))[0]?.status).toBe("failed");
      expect((await runs(p, "keep"))[0]?.reason).toContain(reason);
      expect(await members(p, "keep")).toEqual(["x", "y"]);
      expect(await env.EXPORTS.head(fileKey(p, "keep"))).toBeNull();
    }
    // In add mode too: nothing of a file that fails part-way is added.
    await putFeed(p, "keep", { header: false, type: "custom_ids", mode: "add" });
    await env.EXPORTS.put(fileKey(p, "keep"), 'new1\nnew2\n"bad\n');
    await notify(fileKey(p, "keep"));
    expect(await members(p, "keep")).toEqual(["x", "y"]);
    expect((await audience(p, "keep")).size).toBe(2);
  });

  it("refuses a file of more than 1,000,000 lines, adding nothing", async () => {
    const p = await createProject();
    await putFeed(p, "huge", { header: false, type: "custom_ids", mode: "add" });
    await env.EXPORTS.put(fileKey(p, "huge"), "a\n".repeat(1_000_001));
    await notify(fileKey(p, "huge"));
    expect((await runs(p, "huge"))[0]).toMatchObject({ status: "failed", reason: "More than 1000000 lines." });
    expect(await members(p, "huge")).toEqual([]);
    expect(await env.EXPORTS.head(fileKey(p, "huge"))).toBeNull();
  }, 60_000);

  it("one project's file never touches another's audiences; feeds are the project's own", async () => {
    const owner = await createProject();
    const other = await createProject();
    await putFeed(owner, "shared", { header: false, type: "custom_ids", mode: "replace" });
    // A file in the other project's inbox, named like the owner's feed: no feed there, nothing happens.
    const stray = fileKey(other, "shared");
    await env.EXPORTS.put(stray, "intruder\n");
    await notify(stray);
    expect(await members(owner, "shared")).toEqual([]);
    expect(await env.EXPORTS.head(stray)).not.toBeNull();
    await env.EXPORTS.delete(stray);
    const foreign = await call("PUT", "/v1/audience-feeds/shared", {
      headers: { Authorization: `Bearer ${other.restKey}`, "X-Project-Id": owner.projectId },
      body: { header: false, type: "custom_ids" },
    });
    expect(foreign.status).toBe(403);
    expect((await call("GET", "/v1/audience-feeds/shared/runs", { headers: restHeaders(other) })).status).toBe(404);
    expect((await call("POST", "/v1/admin/jobs/audience_inbox", { headers: restHeaders(owner) })).status).toBe(403);
  });

  it("refuses a bad feed configuration, writing nothing", async () => {
    const p = await createProject();
    for (const body of [
      { header: true, delimiter: '"', type: "custom_ids" },
      { header: true, type: "emails" },
      { header: "yes", type: "custom_ids" },
      { header: true, type: "custom_ids", column: -1 },
    ]) {
      expect((await putFeed(p, "bad", body)).status).toBe(400);
    }
    expect((await call("GET", "/v1/audiences/bad", { headers: restHeaders(p) })).status).toBe(404);
    await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name: "typed", type: "installation_ids" } });
    expect((await putFeed(p, "typed", { header: false, type: "custom_ids" })).status).toBe(409);
  });
});
