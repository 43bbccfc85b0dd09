/** The SDK batch endpoint, fuzzed with a valid key for its scope: test/support/fuzz/check.ts says how. */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { allShards } from "../../src/db/shards";
import { fuzz, sdkIds, settle } from "../support/fuzz/check";
import { bodies, MiB, req, TEST_TIMEOUT } from "../support/fuzz/requests";
import { flatOf, shapedSdkBatches } from "../support/fuzz/shaped";
import { sdkBatches } from "../support/fuzz/valid";
import { createProject, sdkHeaders } from "../support/harness";
import { attributes, batch, event, identify } from "../support/identity";
import { stagedEvents } from "../support/staged";

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "POST /v1/sdk/batch",
    async () => {
      const p = await createProject();
      const known = crypto.randomUUID();
      await batch(p, known, [identify("fz-user-1"), attributes({ plan: "free" })]);
      await settle();
      const requests = bodies(sdkBatches(known), {
        maxBytes: MiB / 2,
        repeat: [2, 101],
        shapes: shapedSdkBatches(known),
      }).map((body) => req({ method: "POST", path: "/v1/sdk/batch", headers: sdkHeaders(p), body }));
      await fuzz(requests, { projectId: p.projectId, ids: sdkIds, async: true });
    },
    TEST_TIMEOUT,
  );
});

/** Waits until the projection holds the installation and R2 has staged `events` of its events. */
async function waitForLanding(installation: string, events: number) {
  await vi.waitFor(
    async () => {
      let projected = { n: 0 };
      for (const s of allShards(env)) {
        const row = await s.d1
          .prepare("SELECT count(*) AS n FROM installations WHERE installation_id = ?")
          .bind(installation)
          .first<{ n: number }>();
        projected = { n: projected.n + (row?.n ?? 0) };
      }
      const landed = (await stagedEvents(null)).filter((e) => e.installation_id === installation);
      expect(projected?.n).toBe(1);
      expect(landed).toHaveLength(events);
    },
    { timeout: 8_000, interval: 200 },
  );
}

describe("regressions for bugs the fuzz runs found", () => {
  it("an accepted SDK batch whose events exceed one sendBatch (256 KB) still lands (outbox-oversized-batch)", async () => {
    // Was: the outbox sent up to 100 rows in one sendBatch; past 256 KB (or one message past
    // 128 KB) it failed on every retry, so the events and the projection never landed.
    const p = await createProject();
    const installation = crypto.randomUUID();
    const ops = Array.from({ length: 100 }, (_, i) => event(`e${i}`, { o: flatOf(10) }));
    const answer = await batch(p, installation, ops);
    expect(answer.accepted).toBe(100);
    await waitForLanding(installation, 100);
  });
});
