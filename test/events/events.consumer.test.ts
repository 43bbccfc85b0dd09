import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createProject } from "../support/harness";
import { batch } from "../support/identity";

async function landed(projectId: string, eventId: string) {
  const rows = await env.DB.prepare("SELECT profile_id FROM events WHERE project_id = ? AND event_id = ?")
    .bind(projectId, eventId)
    .all<{ profile_id: string }>();
  return rows.results.map((r) => r.profile_id).sort();
}

describe("the events consumer", () => {
  it("lands two profiles' events that share an op id as two events", async () => {
    const p = await createProject();
    const first = await batch(p, crypto.randomUUID(), [{ id: "3", type: "event", name: "opened", attributes: {} }]);
    const second = await batch(p, crypto.randomUUID(), [{ id: "3", type: "event", name: "opened", attributes: {} }]);
    expect(first.profile_id).not.toBe(second.profile_id);
    await vi.waitFor(
      async () => expect(await landed(p.projectId, "3")).toEqual([first.profile_id, second.profile_id].sort()),
      { timeout: 20_000, interval: 100 },
    );
  });
});
