import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { batch, identify } from "../support/identity";
import { batchErrorOf } from "./support";

let p: Project;
let other: Project;
beforeAll(async () => {
  p = await createProject();
  other = await createProject();
});

/** Batch's Audience API as its clients call it: the REST key and Batch's project header. */
const batchHeaders = (q: Project) => ({ Authorization: `Bearer ${q.restKey}`, "X-Batch-Project": q.projectId });
const audiencePost = (q: Project, op: string, body: unknown, minor = "1") =>
  call("POST", `/2.${minor}/audiences/${op}`, { headers: batchHeaders(q), body });
const audienceGet = (q: Project, op: string, query: Record<string, string>) =>
  call("GET", `/2.1/audiences/${op}?${new URLSearchParams(query)}`, { headers: batchHeaders(q) });

async function token(res: Response): Promise<string> {
  expect(res.status).toBe(202);
  return (await res.json<{ indexing_token: string }>()).indexing_token;
}

describe("Batch's Audience API 2.x", () => {
  it("creates, updates, replaces, views and removes, each token APPLIED, earlier ones REPLACED by a replace", async () => {
    const created = await token(
      await audiencePost(p, "create", { name: "vip", type: "custom_ids", display_name: "VIPs" }),
    );
    const updated = await token(
      await audiencePost(p, "update", {
        name: "vip",
        ids: [
          { action: "add", id: "u1" },
          { action: "add", id: "u2" },
          { action: "remove", id: "u2" },
          { action: "add", id: "u3" },
        ],
      }),
    );
    const view = async (t: string) =>
      (await audienceGet(p, "view", { name: "vip", indexing_token: t })).json<Record<string, unknown>>();
    expect(await view(updated)).toMatchObject({
      name: "vip",
      display_name: "VIPs",
      type: "custom_ids",
      nb_ids: 2,
      indexing_state: "APPLIED",
    });
    // The same audience through /v1.
    const v1 = await call("GET", "/v1/audiences/vip", { headers: restHeaders(p) });
    expect(await v1.json()).toMatchObject({ size: 2, description: "VIPs" });
    const replaced = await token(await audiencePost(p, "replace/", { name: "vip", ids: ["a", "b", "c"] }));
    expect((await view(replaced)).indexing_state).toBe("APPLIED");
    expect((await view(updated)).indexing_state).toBe("REPLACED");
    expect((await view(created)).indexing_state).toBe("REPLACED");
    expect((await view(replaced)).nb_ids).toBe(3);
    await token(await audiencePost(p, "remove", { name: "vip" }));
    expect((await call("GET", "/v1/audiences/vip", { headers: restHeaders(p) })).status).toBe(404);
  });

  it("a token is IN_PROGRESS while its change is written, APPLIED after", async () => {
    await token(await audiencePost(p, "create", { name: "slow", type: "custom_ids" }));
    // A change under way, as a concurrent reader sees it: its token recorded, not yet applied.
    await env.DB.prepare(
      "INSERT INTO audience_tokens (token, project_id, audience, kind, state, created_at) VALUES ('t-busy', ?, 'slow', 'update', 'IN_PROGRESS', ?)",
    )
      .bind(p.projectId, new Date().toISOString())
      .run();
    expect(
      (
        await (
          await audienceGet(p, "view", { name: "slow", indexing_token: "t-busy" })
        ).json<{ indexing_state: string }>()
      ).indexing_state,
    ).toBe("IN_PROGRESS");
    const list = await (await audienceGet(p, "list", {})).json<{
      audiences: { name: string; indexing_state: string }[];
    }>();
    expect(list.audiences.find((a) => a.name === "slow")?.indexing_state).toBe("IN_PROGRESS");
    const done = await token(await audiencePost(p, "update", { name: "slow", ids: [{ action: "add", id: "x" }] }));
    expect(
      (await (await audienceGet(p, "view", { name: "slow", indexing_token: done })).json<{ indexing_state: string }>())
        .indexing_state,
    ).toBe("APPLIED");
  });

  it("a segment's in_audience sees either API's changes", async () => {
    const i = crypto.randomUUID();
    await batch(p, i, [identify("seg-user")]);
    await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name: "both", type: "custom_ids" } });
    const query = async () =>
      (
        await call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where: { in_audience: "both" } } })
      ).json<{ count: number }>();
    await token(await audiencePost(p, "update", { name: "both", ids: [{ action: "add", id: "seg-user" }] }));
    await expect.poll(async () => (await query()).count, { timeout: 15_000 }).toBe(1);
    await token(await audiencePost(p, "replace", { name: "both", ids: [] }));
    expect((await query()).count).toBe(0);
  });

  it("lists a page at a time with has_more and next_from", async () => {
    const q = await createProject();
    for (const name of ["a1", "a2", "a3"])
      await token(await audiencePost(q, "create", { name, type: "installation_ids" }));
    const first = await (await audienceGet(q, "list", { limit: "2" })).json<{
      audiences: { name: string }[];
      count: number;
      has_more: boolean;
      next_from: string;
    }>();
    expect(first).toMatchObject({ count: 3, has_more: true, next_from: "a2" });
    expect(first.audiences.map((a) => a.name)).toEqual(["a1", "a2"]);
    const second = await (await audienceGet(q, "list", { limit: "2", from: first.next_from })).json<{
      audiences: { name: string }[];
      has_more: boolean;
    }>();
    expect(second).toMatchObject({ has_more: false });
    expect(second.audiences.map((a) => a.name)).toEqual(["a3"]);
  });

  it("refuses bad input with batch_code, changing nothing", async () => {
    await token(await audiencePost(p, "create", { name: "strict", type: "installation_ids" }));
    const bad = await audiencePost(p, "replace", { name: "strict", ids: ["not-a-uuid"] });
    expect(bad.status).toBe(400);
    expect((await batchErrorOf(bad)).batch_code).toBe(31);
    const tooMany = await audiencePost(p, "replace", {
      name: "strict",
      ids: Array.from({ length: 10_001 }, () => crypto.randomUUID()),
    });
    expect(tooMany.status).toBe(400);
    expect((await (await audienceGet(p, "view", { name: "strict" })).json<{ nb_ids: number }>()).nb_ids).toBe(0);
    const dup = await audiencePost(p, "create", { name: "strict", type: "custom_ids" });
    expect(dup.status).toBe(409);
    expect((await batchErrorOf(dup)).batch_code).toBe(12);
    const missing = await audiencePost(p, "update", { name: "nope", ids: [] });
    expect(missing.status).toBe(404);
    const unknownToken = await audienceGet(p, "view", { name: "strict", indexing_token: "nope" });
    expect(unknownToken.status).toBe(404);
    // A refused change leaves no token behind.
    const tokens = await env.DB.prepare(
      "SELECT count(*) AS n FROM audience_tokens WHERE project_id = ? AND audience = 'strict'",
    )
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(tokens?.n).toBe(1);
  });

  it("keeps projects apart: another project's key, or its token, reaches nothing", async () => {
    const t = await token(await audiencePost(p, "create", { name: "mine", type: "custom_ids" }));
    const wrong = await call("POST", "/2.1/audiences/update", {
      headers: { Authorization: `Bearer ${other.restKey}`, "X-Batch-Project": p.projectId },
      body: { name: "mine", ids: [{ action: "add", id: "x" }] },
    });
    expect(wrong.status).toBe(403);
    expect((await batchErrorOf(wrong)).batch_code).toBe(10);
    const noKey = await call("GET", "/2.1/audiences/list", {});
    expect(noKey.status).toBe(401);
    expect((await audienceGet(other, "view", { name: "mine", indexing_token: t })).status).toBe(404);
    expect((await (await audienceGet(other, "list", {})).json<{ count: number }>()).count).toBe(0);
  });
});
