/** The audience endpoints, fuzzed with a valid key for its scope: test/support/fuzz/check.ts says how. */
import fc from "fast-check";
import { describe, it } from "vitest";
import { check, fuzz } from "../support/fuzz/check";
import { bodies, MiB, NUM_RUNS, queryString, req, TEST_TIMEOUT } from "../support/fuzz/requests";
import { audienceName, csvBodies, csvValue, ensureAudiences, idLists, withRestHeaders } from "../support/fuzz/setup";
import { nastyString, weirdValue } from "../support/fuzz/values";
import { createProject } from "../support/harness";

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "POST /v1/audiences",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const valid = fc.record(
        {
          name: fc.oneof(fc.constantFrom("vip", "new-one"), fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/)),
          type: fc.constantFrom("custom_ids", "installation_ids"),
          description: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 })),
        },
        { requiredKeys: ["name", "type"] },
      );
      const shapes = fc.record(
        {
          name: fc.oneof(audienceName, nastyString),
          type: fc.oneof(fc.constantFrom("custom_ids", "installation_ids", "CUSTOM_IDS", "constructor"), nastyString),
          description: fc.oneof(nastyString, fc.constantFrom("d".repeat(500), "d".repeat(501)), weirdValue),
        },
        { requiredKeys: [] },
      );
      const requests = fc
        .tuple(bodies(valid, { maxBytes: MiB, shapes }), withRestHeaders(p))
        .map(([body, headers]) => req({ method: "POST", path: "/v1/audiences", headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "PUT /v1/audiences/{name} (JSON and CSV)",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const shapes = fc.record({
        ids: fc.oneof(fc.array(fc.oneof(csvValue, weirdValue), { maxLength: 8 }), weirdValue),
      });
      const json = bodies(fc.record({ ids: idLists }), { repeat: [2, 10_001], shapes });
      const requests = fc
        .tuple(audienceName, fc.oneof(json, csvBodies), withRestHeaders(p))
        .map(([name, body, headers]) => req({ method: "PUT", path: `/v1/audiences/${name}`, headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "PATCH /v1/audiences/{name}",
    async () => {
      const p = await createProject();
      await ensureAudiences(p);
      const valid = fc.record({ add: idLists, remove: idLists }, { requiredKeys: [] });
      const list = fc.oneof(fc.array(fc.oneof(csvValue, weirdValue), { maxLength: 8 }), weirdValue);
      const shapes = fc.record({ add: list, remove: list }, { requiredKeys: [] });
      const requests = fc
        .tuple(audienceName, bodies(valid, { maxBytes: MiB, repeat: [2, 10_001], shapes }), withRestHeaders(p))
        .map(([name, body, headers]) => req({ method: "PATCH", path: `/v1/audiences/${name}`, headers, body }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET and DELETE /v1/audiences/{name}, GET /v1/audiences",
    async () => {
      const p = await createProject();
      const requests = fc
        .tuple(
          fc.constantFrom("GET" as const, "DELETE" as const),
          fc.oneof(
            { weight: 4, arbitrary: audienceName.map((n) => `/${n}`) },
            { weight: 1, arbitrary: fc.constant("") },
          ),
          fc.option(queryString(nastyString)),
          withRestHeaders(p),
        )
        .map(([method, name, query, headers]) =>
          req({ method, path: `/v1/audiences${name}${query === null ? "" : `?${query}`}`, headers }),
        );
      await fc.assert(
        fc.asyncProperty(requests, async (r) => {
          await ensureAudiences(p);
          await check(r, { projectId: p.projectId });
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );
});
