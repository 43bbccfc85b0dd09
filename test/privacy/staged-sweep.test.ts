import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deleteStagedEvents, stageEvents } from "../../src/exports/staging";
import type { EventsMessage } from "../../src/queue/messages";
import { stagedEvents } from "../support/staged";

const message = (projectId: string, profileId: string, ids: string[]): EventsMessage => ({
  type: "events",
  project_id: projectId,
  profile_id: profileId,
  custom_id: null,
  installation_id: "00000000-0000-4000-8000-000000000001",
  app_id: "app-1",
  received_at: "2026-11-20T00:00:00.000Z",
  events: ids.map((id, k) => ({
    id,
    time: `2026-11-20T01:00:0${k}.000Z`,
    name: "played",
    attributes: {},
    label: null,
    tags: [],
    source: "sdk",
  })),
});

/**
 * The environment as one remove sees it: the first time it reads a staged object, `meanwhile`
 * runs to completion before the read returns, so the remove works from a copy that is already
 * out of date when it writes.
 */
function readingStale(meanwhile: () => Promise<unknown>): Env {
  let done = false;
  const bucket = new Proxy(env.EXPORTS, {
    get(target, prop) {
      if (prop === "get") {
        return async (...args: Parameters<R2Bucket["get"]>) => {
          const object = await target.get(...args);
          if (!done) {
            done = true;
            await meanwhile();
          }
          return object;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...env, EXPORTS: bucket };
}

describe("two removes rewriting the same staged object at once", () => {
  it("neither puts back the lines the other took out", async () => {
    const projectId = crypto.randomUUID();
    // One object holding three profiles' events: two are removed at the same time.
    await stageEvents(env, [
      message(projectId, "first", ["f1", "f2"]),
      message(projectId, "second", ["s1"]),
      message(projectId, "kept", ["k1"]),
    ]);
    // The first remove reads the object; the second reads and rewrites it; then the first writes.
    let second = -1;
    const first = await deleteStagedEvents(
      readingStale(async () => {
        second = (await deleteStagedEvents(env, projectId, "second")).events;
      }),
      projectId,
      "first",
    );
    expect(first.events).toBe(2);
    expect(second).toBe(1);
    expect((await stagedEvents(projectId)).map((e) => `${e.profile_id}/${e.id}`)).toEqual(["kept/k1"]);
  });
});
