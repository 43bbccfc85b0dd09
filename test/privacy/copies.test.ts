import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createProject } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { archiveOf, run } from "./support";

describe("a remove and the copies of its profile", () => {
  it("deletes the identifier's review archives (410 from then on) and its dead-letter rows, and says when the rest is gone", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    await batch(p, device, [identify("copied-1"), attributes({ tier: "gold" })]);
    const review = await run(p, { type: "review", identifier: { type: "custom_id", value: "copied-1" } });
    expect(review.status).toBe("done");
    expect((await archiveOf(p, review.request_id)).status).toBe(200);
    const key = `privacy/${p.projectId}/${review.request_id}/archive.json`;
    expect(await env.EXPORTS.head(key)).not.toBeNull();
    // A dead-lettered message holding the custom ID in its body, and one about someone else.
    const insert = (id: string, body: unknown) =>
      env.DB.prepare(
        "INSERT INTO dead_letters (queue, message_id, project_id, outcome, body, created_at) VALUES ('q', ?, ?, 'recorded', ?, ?)",
      )
        .bind(id, p.projectId, JSON.stringify(body), new Date().toISOString())
        .run();
    await insert(`mine-${crypto.randomUUID()}`, { project_id: p.projectId, custom_id: "copied-1" });
    await insert(`other-${crypto.randomUUID()}`, { project_id: p.projectId, custom_id: "copied-10" });

    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "copied-1" } });
    expect(done.status).toBe("done");
    expect(await env.EXPORTS.head(key)).toBeNull();
    expect((await archiveOf(p, review.request_id)).status).toBe(410);
    const rows = await env.DB.prepare("SELECT body FROM dead_letters WHERE project_id = ?")
      .bind(p.projectId)
      .all<{ body: string }>();
    expect(rows.results.map((r) => JSON.parse(r.body).custom_id)).toEqual(["copied-10"]);
    const at = Date.parse(done.completed_at ?? "");
    const copies = (done.receipt as unknown as { copies: Record<string, { deleted?: number; gone_by: string }> })
      .copies;
    expect(copies.review_archives).toMatchObject({ deleted: 1 });
    expect(copies.dead_letters).toMatchObject({ deleted: 1 });
    const days = (k: string) => Math.round((Date.parse(copies[k]?.gone_by ?? "") - at) / 86_400_000);
    expect(days("profile_exports")).toBe(7);
    expect(days("daily_exports")).toBe(30);
  });
});
