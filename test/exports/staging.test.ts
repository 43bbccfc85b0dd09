import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import {
  deleteStagedEvents,
  findStagedEvents,
  groupForStaging,
  hourPrefix,
  type StagedScan,
  stageEvents,
} from "../../src/exports/staging";
import worker from "../../src/index";
import type { EventsMessage } from "../../src/queue/messages";
import { createProject } from "../support/harness";
import { stagedEvents } from "../support/staged";
import { days } from "./helpers";

const message = (
  projectId: string,
  profileId: string,
  events: { id: string; time: string }[],
  appId: string | null = "app-1",
): EventsMessage => ({
  type: "events",
  project_id: projectId,
  profile_id: profileId,
  custom_id: null,
  installation_id: "00000000-0000-4000-8000-000000000001",
  app_id: appId,
  received_at: "2026-11-20T00:00:00.000Z",
  events: events.map((e) => ({ ...e, name: "push_opened", attributes: {}, label: null, tags: [], source: "sdk" })),
});

describe("staging layout", () => {
  it("puts each event under the UTC hour of its own time, whatever the batch mixes", () => {
    const groups = groupForStaging(
      [
        message("p", "x", [
          { id: "late", time: "2026-11-20T23:59:59.999Z" },
          { id: "next", time: "2026-11-21T00:00:00.000Z" },
          { id: "offset", time: "2026-11-21T01:30:00+02:00" },
        ]),
        message("p", "y", [{ id: "api", time: "2026-11-20T23:00:00.000Z" }], null),
      ],
      "b1",
    );
    // 01:30+02:00 is 23:30 UTC the day before; each object is sorted by time.
    expect(Object.fromEntries([...groups].map(([k, v]) => [k, v.map((e) => e.id)]))).toEqual({
      "events/p/app-1/2026-11-20/23/b1.ndjson": ["offset", "late"],
      "events/p/app-1/2026-11-21/00/b1.ndjson": ["next"],
      "events/p/_/2026-11-20/23/b1.ndjson": ["api"],
    });
  });
});

describe("deleteStagedEvents and findStagedEvents (privacy review and remove)", () => {
  it("removes one profile's events in bounded pages, rewriting shared objects and deleting its own", async () => {
    const projectId = crypto.randomUUID();
    const times = (n: number, hour: string) =>
      Array.from({ length: n }, (_, k) => ({ id: `${hour}-${k}`, time: `2026-11-20T${hour}:00:0${k}.000Z` }));
    // Shared objects (both profiles), objects of the removed profile only, another project.
    await stageEvents(env, [message(projectId, "gone", times(2, "01")), message(projectId, "kept", times(1, "01"))]);
    await stageEvents(env, [message(projectId, "gone", times(3, "02"))]);
    await stageEvents(env, [message(projectId, "gone", times(1, "03"), null)]);
    await stageEvents(env, [message(projectId, "kept", times(2, "04"))]);
    const elsewhere = crypto.randomUUID();
    await stageEvents(env, [message(elsewhere, "gone", times(1, "01"))]);

    const review = await findStagedEvents(env, projectId, "gone");
    expect(review.found.map((e) => e.id).sort()).toEqual(["01-0", "01-1", "02-0", "02-1", "02-2", "03-0"]);

    let scan: StagedScan = { events: 0, objects: 0, cursor: null };
    let deleted = 0;
    let pages = 0;
    do {
      scan = await deleteStagedEvents(env, projectId, "gone", { cursor: scan.cursor ?? undefined, limit: 1 });
      deleted += scan.events;
      pages++;
    } while (scan.cursor);
    expect(deleted).toBe(6);
    expect(pages).toBe(4);

    expect((await stagedEvents(projectId)).map((e) => `${e.profile_id}/${e.id}`)).toEqual([
      "kept/01-0",
      "kept/04-0",
      "kept/04-1",
    ]);
    // The profile's own objects are gone, not left empty.
    expect((await env.EXPORTS.list({ prefix: hourPrefix(projectId, "app-1", "2026-11-20", 2) })).objects).toEqual([]);
    // Another project's events of a profile with the same ID are untouched.
    expect(await stagedEvents(elsewhere)).toHaveLength(1);
    // Running it again finds nothing.
    expect((await deleteStagedEvents(env, projectId, "gone")).events).toBe(0);
  });
});

describe("cron 0 2 * * *", () => {
  it("writes the previous UTC day's files for every app", async () => {
    const p = await createProject();
    const now = new Date();
    const { day } = days(now);
    const ctx = createExecutionContext();
    await worker.scheduled?.(createScheduledController({ cron: "0 2 * * *", scheduledTime: now.getTime() }), env, ctx);
    await waitOnExecutionContext(ctx);
    await vi.waitFor(
      async () => {
        const { results } = await env.DB.prepare("SELECT kind FROM export_files WHERE project_id = ? AND date = ?")
          .bind(p.projectId, day)
          .all<{ kind: string }>();
        expect(results.map((r) => r.kind).sort()).toEqual(["inapp_events", "optin_users", "push_events"]);
      },
      { timeout: 20_000, interval: 100 },
    );
  });
});
