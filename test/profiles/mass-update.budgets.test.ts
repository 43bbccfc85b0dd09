import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { projectShard } from "../../src/db/shards";
import { PROJECT_CHUNKS_PER_WINDOW, SHARED_CHUNKS_PER_WINDOW, sharedPaceKey } from "../../src/profiles/pace";
import type { ProfileOpsMessage } from "../../src/queue/messages";
import wranglerToml from "../../wrangler.toml?raw";
import { createProject } from "../support/harness";
import { profileBy } from "../support/identity";
import { placeOn } from "../support/shards";
import { ask, chunkOf, deliver, recorded, recordRequest } from "./mass-update-pace.support";

describe("the budgets the pace asks", () => {
  /** The `simple.limit` wrangler.toml gives a Rate Limiting binding. */
  function configured(name: string): number {
    const found = new RegExp(`name = "${name}"[^[]*?limit = (\\d+)`).exec(wranglerToml);
    if (!found) throw new Error(`${name} is not in wrangler.toml`);
    return Number(found[1]);
  }

  it("are the ones wrangler.toml gives the bindings, which docs/performance.md computes the rate from", async () => {
    expect(configured("MASS_UPDATE_PACE")).toBe(PROJECT_CHUNKS_PER_WINDOW);
    expect(configured("MASS_UPDATE_SHARED_PACE")).toBe(SHARED_CHUNKS_PER_WINDOW);
    // Larger than one project's: what one project cannot take is left to the others.
    expect(SHARED_CHUNKS_PER_WINDOW).toBeGreaterThan(PROJECT_CHUNKS_PER_WINDOW);
    // And the binding counts to its limit: the project's refuses the call after it.
    const key = `probe-${crypto.randomUUID()}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = Math.floor(Date.now() / 10_000);
      const admitted = await ask(env.MASS_UPDATE_PACE, key, PROJECT_CHUNKS_PER_WINDOW + 1);
      if (Math.floor(Date.now() / 10_000) !== started) continue;
      expect(admitted).toBeLessThanOrEqual(PROJECT_CHUNKS_PER_WINDOW);
      return;
    }
  }, 60_000);

  it("defers a chunk whose project is within its budget when all projects' shared budget is spent", async () => {
    const quiet = await createProject();
    const requestId = crypto.randomUUID();
    await recordRequest(quiet.projectId, requestId, 1);
    const sent: ProfileOpsMessage[] = [];
    const asked: string[] = [];
    const spentShared = {
      ...env,
      MASS_UPDATE_SHARED_PACE: {
        limit: async ({ key }: RateLimitOptions) => {
          asked.push(key);
          return { success: false };
        },
      } as RateLimit,
      TASKS: { send: async (body: ProfileOpsMessage) => void sent.push(body) } as unknown as Queue,
    } as Env;
    const result = await deliver([chunkOf(quiet.projectId, requestId, "shared-member")], spentShared);
    expect(asked).toEqual([sharedPaceKey((await projectShard(env, quiet.projectId)).name)]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ request_id: requestId, deferrals: 1 });
    expect(await recorded(requestId)).toBe(0);
    expect((await profileBy(quiet, { custom_id: "shared-member" })).status).toBe(404);
  });

  it("keeps a shared budget per projection database: a spent one defers only its own shard's chunks", async () => {
    const [full, free] = [await createProject(), await createProject()];
    await placeOn(full.projectId, "PROJECTION_1");
    await placeOn(free.projectId, "PROJECTION_2");
    const [fullRequest, freeRequest] = [crypto.randomUUID(), crypto.randomUUID()];
    await recordRequest(full.projectId, fullRequest, 1);
    await recordRequest(free.projectId, freeRequest, 1);
    const sent: ProfileOpsMessage[] = [];
    const oneShardSpent = {
      ...env,
      MASS_UPDATE_SHARED_PACE: {
        limit: async ({ key }: RateLimitOptions) => ({ success: key !== sharedPaceKey("PROJECTION_1") }),
      } as RateLimit,
      TASKS: { send: async (body: ProfileOpsMessage) => void sent.push(body) } as unknown as Queue,
    } as Env;
    await deliver(
      [chunkOf(full.projectId, fullRequest, "full-member"), chunkOf(free.projectId, freeRequest, "free-member")],
      oneShardSpent,
    );
    expect(sent.map((m) => m.request_id)).toEqual([fullRequest]);
    expect(await recorded(fullRequest)).toBe(0);
    expect(await recorded(freeRequest)).toBe(1);
    expect((await profileBy(free, { custom_id: "free-member" })).body?.attributes.paced?.value).toBe(true);
  });

  it("does not spend the shared budget for a chunk its own project's budget refuses", async () => {
    const busy = await createProject();
    const requestId = crypto.randomUUID();
    await recordRequest(busy.projectId, requestId, 1);
    const asked: string[] = [];
    const watched = {
      ...env,
      MASS_UPDATE_PACE: { limit: async () => ({ success: false }) } as RateLimit,
      MASS_UPDATE_SHARED_PACE: {
        limit: async ({ key }: RateLimitOptions) => {
          asked.push(key);
          return { success: true };
        },
      } as RateLimit,
      TASKS: { send: async () => undefined } as unknown as Queue,
    } as Env;
    const result = await deliver([chunkOf(busy.projectId, requestId, "refused-member")], watched);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await recorded(requestId)).toBe(0);
    expect(asked).toEqual([]);
  });
});
