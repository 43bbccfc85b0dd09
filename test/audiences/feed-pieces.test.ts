import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type FeedPiece, firstPiece, runPiece } from "../../src/audiences/feed-pieces";
import { ingestInboxFile } from "../../src/audiences/feeds";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";

/*
 * A file larger than one invocation reads goes on piece by piece through the inbox queue. Here
 * pieces are a few dozen bytes, so a short file takes many of them.
 */

const fileKey = (p: Project, name: string) => `inbox/${p.projectId}/audiences/${name}.csv`;
const SMALL = { pieceBytes: 40, inlineBytes: 0 };

async function putFeed(p: Project, name: string, body: Record<string, unknown>) {
  const res = await call("PUT", `/v1/audience-feeds/${name}`, { headers: restHeaders(p), body });
  expect(res.status).toBe(200);
}

interface Run {
  run_id: string;
  status: string;
  lines: number;
  ids: number;
  rejected: number;
  reason?: string;
}
const runs = async (p: Project, name: string) =>
  (await (await call("GET", `/v1/audience-feeds/${name}/runs`, { headers: restHeaders(p) })).json<{ runs: Run[] }>())
    .runs;

/** The latest run, once it has ended (its pieces run on the queue). */
async function ended(p: Project, name: string): Promise<Run> {
  for (let i = 0; i < 300; i++) {
    const run = (await runs(p, name))[0];
    if (run && run.status !== "running") return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the run did not end");
}

const progressOf = async (runId: string) =>
  (
    await env.DB.prepare("SELECT progress FROM audience_feed_runs WHERE run_id = ?")
      .bind(runId)
      .first<{ progress: number }>()
  )?.progress;
const rows = async (p: Project, name: string) =>
  (
    await (
      await shardDb(p.projectId)
    )
      .prepare("SELECT generation, member FROM audience_members WHERE project_id = ? AND audience = ? ORDER BY 2")
      .bind(p.projectId, name)
      .all<{ generation: number; member: string }>()
  ).results;
const members = async (p: Project, name: string) => {
  const current = await (await shardDb(p.projectId))
    .prepare("SELECT generation FROM audiences WHERE project_id = ? AND name = ?")
    .bind(p.projectId, name)
    .first<{ generation: number }>();
  return (await rows(p, name)).filter((r) => r.generation === current?.generation).map((r) => r.member);
};

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, k) => `${prefix}-${String(k).padStart(3, "0")}`);

describe("flat files read in pieces through the queue", () => {
  it("a replace file of many pieces becomes the audience, counted as a whole, then is deleted", async () => {
    const p = await createProject();
    await putFeed(p, "big", { header: true, delimiter: ";", column: "id", type: "custom_ids", mode: "replace" });
    await env.EXPORTS.put(fileKey(p, "big"), "name;id\nn;x\n");
    expect(await ingestInboxFile(env, fileKey(p, "big"))).toBe("done");
    // Multi-byte characters across piece edges, a rejected ID, a blank line, no final newline.
    const wanted = [...ids("zoé", 30), "ünï-1"];
    const body = `name;id\n${wanted.map((id) => `n;${id}`).join("\n")}\nn;null\n\nn;last`;
    await env.EXPORTS.put(fileKey(p, "big"), body);
    expect(await ingestInboxFile(env, fileKey(p, "big"), SMALL)).toBe("queued");
    const run = await ended(p, "big");
    expect(run, run.reason).toMatchObject({ status: "done", lines: 35, ids: 32, rejected: 1 });
    expect(await progressOf(run.run_id)).toBeGreaterThan(10);
    expect(await members(p, "big")).toEqual([...wanted, "last"].sort());
    // Nothing but the members is left: no claim marker, no older generation.
    expect(await rows(p, "big")).toHaveLength(32);
    expect(await env.EXPORTS.head(fileKey(p, "big"))).toBeNull();
  });

  it("a malformed line in a late piece fails the run and leaves the audience as it was (replace and add)", async () => {
    const p = await createProject();
    await putFeed(p, "late", { header: false, type: "custom_ids", mode: "replace" });
    await env.EXPORTS.put(fileKey(p, "late"), "keep1\nkeep2\n");
    expect(await ingestInboxFile(env, fileKey(p, "late"))).toBe("done");
    for (const mode of ["replace", "add"]) {
      await putFeed(p, "late", { header: false, type: "custom_ids", mode });
      await env.EXPORTS.put(fileKey(p, "late"), `${ids("new", 40).join("\n")}\n"unclosed\n`);
      expect(await ingestInboxFile(env, fileKey(p, "late"), SMALL)).toBe("queued");
      expect(await ended(p, "late")).toMatchObject({ status: "failed", reason: expect.stringContaining("quote") });
      expect(await members(p, "late")).toEqual(["keep1", "keep2"]);
      expect(await rows(p, "late")).toHaveLength(2);
      expect(await env.EXPORTS.head(fileKey(p, "late"))).toBeNull();
    }
  });

  it("an add file is checked whole, then added piece by piece", async () => {
    const p = await createProject();
    await putFeed(p, "adds", { header: false, type: "custom_ids", mode: "add" });
    await env.EXPORTS.put(fileKey(p, "adds"), "a0\n");
    await ingestInboxFile(env, fileKey(p, "adds"));
    await env.EXPORTS.put(fileKey(p, "adds"), `${ids("b", 25).join("\n")}\n`);
    expect(await ingestInboxFile(env, fileKey(p, "adds"), SMALL)).toBe("queued");
    expect(await ended(p, "adds")).toMatchObject({ status: "done", lines: 25, ids: 25 });
    expect(await members(p, "adds")).toEqual(["a0", ...ids("b", 25)]);
  });

  it("a second delivery of a piece changes nothing and starts no second chain", async () => {
    const p = await createProject();
    await putFeed(p, "twice", { header: false, type: "custom_ids", mode: "replace" });
    await env.EXPORTS.put(fileKey(p, "twice"), `${ids("t", 20).join("\n")}\n`);
    const object = await env.EXPORTS.head(fileKey(p, "twice"));
    const runId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO audience_feed_runs (run_id, project_id, name, file, status, started_at) VALUES (?, ?, ?, ?, 'running', ?)",
    )
      .bind(runId, p.projectId, "twice", fileKey(p, "twice"), new Date().toISOString())
      .run();
    const feed = {
      projectId: p.projectId,
      name: "twice",
      header: false,
      delimiter: ",",
      column: 0,
      type: "custom_ids",
      mode: "replace",
    } as const;
    const first: FeedPiece = firstPiece(
      { runId, key: fileKey(p, "twice"), etag: object?.etag ?? "", size: object?.size ?? 0 },
      feed,
      60,
    );
    const once = await runPiece(env, structuredClone(first));
    expect("next" in once).toBe(true);
    expect(await runPiece(env, structuredClone(first))).toEqual({ superseded: true });
    expect(await progressOf(runId)).toBe(1);
    // The chain goes on from the one next piece only.
    let piece = (once as { next: FeedPiece }).next;
    for (;;) {
      const outcome = await runPiece(env, piece);
      if (!("next" in outcome)) {
        expect(outcome).toEqual({ done: { lines: 20, ids: 20, rejected: 0 } });
        break;
      }
      piece = outcome.next;
    }
    expect(await runPiece(env, piece)).toEqual({ superseded: true });
    expect(await members(p, "twice")).toEqual(ids("t", 20));
  });

  it("a file replaced while it is read fails its run and stays for its own", async () => {
    const p = await createProject();
    await putFeed(p, "swap", { header: false, type: "custom_ids", mode: "replace" });
    await env.EXPORTS.put(fileKey(p, "swap"), `${ids("old", 20).join("\n")}\n`);
    const object = await env.EXPORTS.head(fileKey(p, "swap"));
    const runId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO audience_feed_runs (run_id, project_id, name, file, status, started_at) VALUES (?, ?, ?, ?, 'running', ?)",
    )
      .bind(runId, p.projectId, "swap", fileKey(p, "swap"), new Date().toISOString())
      .run();
    const feed = {
      projectId: p.projectId,
      name: "swap",
      header: false,
      delimiter: ",",
      column: 0,
      type: "custom_ids",
      mode: "replace",
    } as const;
    const first = firstPiece(
      { runId, key: fileKey(p, "swap"), etag: object?.etag ?? "", size: object?.size ?? 0 },
      feed,
      60,
    );
    const outcome = await runPiece(env, first);
    await env.EXPORTS.put(fileKey(p, "swap"), "fresh\n");
    expect(await runPiece(env, (outcome as { next: FeedPiece }).next)).toMatchObject({ deleteFile: false });
    expect((await runs(p, "swap"))[0]).toMatchObject({ status: "failed", reason: expect.stringContaining("replaced") });
    expect(await rows(p, "swap")).toHaveLength(0);
    expect(await ingestInboxFile(env, fileKey(p, "swap"))).toBe("done");
    expect(await members(p, "swap")).toEqual(["fresh"]);
  });
});
