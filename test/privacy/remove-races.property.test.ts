import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { archiveKey } from "../../src/privacy/store";
import { EVENTS_QUEUE, PROJECTION_QUEUE } from "../../src/queue/consumer";
import type { EventsMessage, ProjectionMessage } from "../../src/queue/messages";
import { createProject, type Project } from "../support/harness";
import {
  attributes,
  batch,
  event,
  identify,
  invariantViolations,
  logout,
  type Op,
  readWorld,
} from "../support/identity";
import { deliverTo } from "../support/queues";
import { stagedEvents } from "../support/staged";
import { archiveOf, type PrivacyRequestBody, run, settled, submit } from "./support";

/*
 * A remove racing everything else that touches its profile (the randomized test): SDK
 * batches that sign in to the removed custom ID, log out, set attributes and send events on the
 * installations involved, and late projection and event messages of the removed profile, each
 * started at a random moment around the remove. Afterwards no trace of the removed profiles is
 * left in the objects, D1, R2 (staged events, the review archive) or the dead letters, the
 * identity invariants hold, and the receipt counts what was there to delete.
 */

const DEVICES = 3;
const VICTIM = "victim";
const CUSTOM_IDS = [VICTIM, "bystander"];

type Action =
  | { kind: "batch"; device: number; ops: ("identify_victim" | "identify_other" | "logout" | "attributes" | "event")[] }
  | { kind: "projection" }
  | { kind: "events" };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      device: fc.nat({ max: DEVICES - 1 }),
      ops: fc.array(fc.constantFrom("identify_victim", "identify_other", "logout", "attributes", "event"), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("projection" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("events" as const) }) },
);

/** Each action with the moment it starts (tens of milliseconds), and the remove's own moment. */
const schedule = fc.record({
  actions: fc.array(fc.record({ action, at: fc.nat({ max: 6 }) }), { minLength: 1, maxLength: 6 }),
  removeAt: fc.nat({ max: 6 }),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function toOp(o: Extract<Action, { kind: "batch" }>["ops"][number]): Op {
  switch (o) {
    case "identify_victim":
      return identify(VICTIM);
    case "identify_other":
      return identify("bystander");
    case "logout":
      return logout();
    case "attributes":
      return attributes({ tier: "gold", email: "victim@example.com" });
    case "event":
      return event("played", { level: 3 });
  }
}

async function d1Rows(p: Project, table: string, column: string, ids: string[], extra = "") {
  const row = await env.DB.prepare(
    `SELECT count(*) AS n FROM ${table} WHERE project_id = ?1 AND ${column} IN (SELECT value FROM json_each(?2)) ${extra}`,
  )
    .bind(p.projectId, JSON.stringify(ids))
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** Every trace of `removed` (profile IDs) still held somewhere; empty when none is. */
async function traces(p: Project, devices: string[], removed: string[], archive: string): Promise<string[]> {
  const found: string[] = [];
  const gone = new Set(removed);
  const world = await readWorld(p.projectId, devices, CUSTOM_IDS);
  found.push(...invariantViolations(world));
  for (const [i, inst] of world.installations) {
    if (gone.has(inst.profileId)) found.push(`installation ${i} bound to removed ${inst.profileId}`);
    for (const l of inst.localProfiles) {
      if (gone.has(String(l.profile_id))) found.push(`installation ${i} holds removed ${l.profile_id} (${l.state})`);
    }
  }
  for (const [c, held] of world.customIds) {
    if (held.profileId && gone.has(held.profileId)) found.push(`custom ID ${c} holds removed ${held.profileId}`);
  }
  for (const [id, holders] of world.events) {
    for (const h of holders) if (gone.has(h.split("/").at(-1) as string)) found.push(`object event ${id} at ${h}`);
  }
  const d1 = {
    live: await d1Rows(p, "profiles", "profile_id", removed, "AND state <> 'removed'"),
    attributes: await d1Rows(p, "profile_attributes", "profile_id", removed),
    items: await d1Rows(p, "profile_attribute_items", "profile_id", removed),
    installations: await d1Rows(p, "installations", "profile_id", removed),
  };
  for (const [table, n] of Object.entries(d1)) if (n !== 0) found.push(`D1 ${table}: ${n}`);
  for (const e of await stagedEvents(p.projectId)) if (gone.has(e.profile_id)) found.push(`R2 event ${e.id}`);
  if (await env.EXPORTS.head(archive)) found.push("review archive still stored");
  const letters = await env.DB.prepare("SELECT body FROM dead_letters WHERE project_id = ?")
    .bind(p.projectId)
    .all<{ body: string }>();
  for (const l of letters.results) {
    if (removed.some((id) => l.body.includes(id)) || l.body.includes(JSON.stringify(VICTIM))) {
      found.push(`dead letter ${l.body.slice(0, 80)}`);
    }
  }
  return found;
}

describe("a remove racing batches, logins, logouts, projection and event messages", () => {
  it("leaves no trace of the removed profile anywhere, and its receipt counts what it deleted", async () => {
    await fc.assert(
      fc.asyncProperty(schedule, async ({ actions, removeAt }) => {
        const p = await createProject();
        const devices = Array.from({ length: DEVICES }, () => crypto.randomUUID());
        const setup = await batch(p, devices[0] as string, [
          identify(VICTIM),
          attributes({ tier: "gold", tags: ["a", "b"] }),
          event("played", { level: 1 }),
        ]);
        const victim = setup.profile_id;
        // Its event reaches R2 and its profile D1 before anything races.
        await vi.waitFor(
          async () => {
            expect((await stagedEvents(p.projectId)).length).toBe(1);
            expect(await d1Rows(p, "profiles", "profile_id", [victim], "AND state = 'active'")).toBe(1);
          },
          { timeout: 15_000, interval: 50 },
        );
        // Copies a remove reaches: a review's archive and a dead letter naming the profile.
        const review = await run(p, { type: "review", identifier: { type: "custom_id", value: VICTIM } });
        const archive = archiveKey(p.projectId, review.request_id);
        expect(await env.EXPORTS.head(archive)).not.toBeNull();
        await env.DB.prepare(
          "INSERT INTO dead_letters (queue, message_id, project_id, outcome, body, created_at) VALUES ('edge-cdp-events', ?, ?, 'recorded', ?, ?)",
        )
          .bind(
            crypto.randomUUID(),
            p.projectId,
            JSON.stringify({ project_id: p.projectId, profile_id: victim, custom_id: VICTIM }),
            new Date().toISOString(),
          )
          .run();

        const lateProjection: ProjectionMessage = {
          type: "profile_changed",
          project_id: p.projectId,
          profile_id: victim,
          holder: { projectId: p.projectId, kind: "custom_id", id: VICTIM },
        };
        const lateEvents = (): EventsMessage => ({
          type: "events",
          project_id: p.projectId,
          profile_id: victim,
          custom_id: VICTIM,
          installation_id: devices[0] as string,
          app_id: p.appId,
          received_at: new Date().toISOString(),
          events: [
            {
              id: `late-${crypto.randomUUID()}`,
              name: "played",
              time: new Date().toISOString(),
              attributes: {},
              label: null,
              tags: [],
              source: "sdk",
            },
          ],
        });

        let requestId = "";
        await Promise.all([
          (async () => {
            await sleep(removeAt * 10);
            requestId = await submit(p, { type: "remove", identifier: { type: "custom_id", value: VICTIM } });
          })(),
          ...actions.map(async ({ action: a, at }) => {
            await sleep(at * 10);
            if (a.kind === "batch") {
              const answer = await batch(p, devices[a.device] as string, a.ops.map(toOp));
              expect(answer.duplicates).toBe(0);
            } else if (a.kind === "projection") {
              await deliverTo(PROJECTION_QUEUE, [lateProjection], { prefix: crypto.randomUUID() });
            } else {
              await deliverTo(EVENTS_QUEUE, [lateEvents()], { prefix: crypto.randomUUID() });
            }
          }),
        ]);
        const done: PrivacyRequestBody & { receipt?: { copies?: Record<string, { deleted?: number }> } } =
          await settled(p, requestId);
        expect(done.status).toBe("done");
        const receipt = done.receipt;
        if (!receipt) throw new Error("no receipt");
        expect(receipt.profile_id).toBe(victim);
        expect(receipt.profile_ids).toContain(victim);
        // Only installations that were signed in to it (the first may have logged out first).
        expect(devices).toEqual(expect.arrayContaining(receipt.installation_ids));
        // What was there before the race: the setup's profile, attributes and staged event, the
        // archive and the dead letter.
        expect(receipt.totals["custom_id_object.profiles"]).toBeGreaterThanOrEqual(1);
        expect(receipt.totals["d1.profiles"]).toBeGreaterThanOrEqual(1);
        expect(receipt.totals["r2.events"]).toBeGreaterThanOrEqual(1);
        expect(receipt.copies?.review_archives?.deleted).toBe(1);
        expect(receipt.copies?.dead_letters?.deleted).toBe(1);

        // Messages the race left in flight settle; then nothing of the removed profiles is left.
        await vi.waitFor(async () => expect(await traces(p, devices, receipt.profile_ids, archive)).toEqual([]), {
          timeout: 15_000,
          interval: 100,
        });
        expect((await archiveOf(p, review.request_id)).status).toBe(410);
        // And it stays so once every late message had its turn.
        await sleep(300);
        expect(await traces(p, devices, receipt.profile_ids, archive)).toEqual([]);
      }),
      { numRuns: 6 },
    );
  }, 120_000);
});
