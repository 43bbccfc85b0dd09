/** The segment query, fuzzed with a valid key for its scope: test/support/fuzz/check.ts says how. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzz } from "../support/fuzz/check";
import { bodies, MiB, req, TEST_TIMEOUT } from "../support/fuzz/requests";
import { ensureAudiences, seedProfiles, withRestHeaders } from "../support/fuzz/setup";
import { segmentQueries, shapedSegmentQueries } from "../support/fuzz/valid";
import { call, createProject, errorOf, restHeaders } from "../support/harness";

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "POST /v1/segments/query",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      await ensureAudiences(p);
      const options = { maxBytes: MiB, repeat: [2, 21, 101], shapes: shapedSegmentQueries(known.profileId) };
      const requests = fc
        .tuple(bodies(segmentQueries(known.profileId), options), withRestHeaders(p))
        .map(([body, headers]) => req({ method: "POST", path: "/v1/segments/query", headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );
});

describe("regressions for bugs the fuzz runs found", () => {
  it("a where node keyed by an Object.prototype name is a 400, not a 500 (segments-prototype-key)", async () => {
    // Was: `CONDITIONS[head]` in src/segments/where.ts found the inherited member, then
    // "schema.safeParse is not a function": 500.
    const p = await createProject();
    for (const where of [{ constructor: 1 }, { toString: true }, { and: [{ push_optin: true }, { valueOf: 1 }] }]) {
      const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body: { where } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
    }
    const raw = await call("POST", "/v1/segments/query", { headers: restHeaders(p), raw: '{"where":{"__proto__":1}}' });
    expect(raw.status).toBe(400);
    await errorOf(raw);
  });
});
