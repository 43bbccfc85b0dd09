/** The admin endpoints, fuzzed with a valid key for its scope: test/support/fuzz/check.ts says how. */
import fc from "fast-check";
import { describe, it } from "vitest";
import { fuzz } from "../support/fuzz/check";
import { bodies, MiB, queryString, req, segment, TEST_TIMEOUT } from "../support/fuzz/requests";
import { hugeNumber, nastyString, weirdValue } from "../support/fuzz/values";
import { adminHeaders, createProject } from "../support/harness";

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "POST /v1/admin/projects",
    async () => {
      const valid = fc.record(
        { name: fc.constantFrom("Acme", "Fuzz Co", " padded "), inactivity_days: fc.integer({ min: 1, max: 3650 }) },
        { requiredKeys: ["name"] },
      );
      const shapes = fc.record(
        {
          name: fc.oneof(nastyString, fc.constantFrom("x".repeat(100), "x".repeat(101), "   ")),
          inactivity_days: fc.oneof(fc.constantFrom(0, 1, 3650, 3651, 1.5), hugeNumber, weirdValue),
        },
        { requiredKeys: [] },
      );
      const requests = bodies(valid, { maxBytes: MiB, shapes }).map((body) =>
        req({ method: "POST", path: "/v1/admin/projects", headers: adminHeaders, body }),
      );
      await fuzz(requests, { projectId: "none" });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/admin/projects/{project_id}/apps",
    async () => {
      const p = await createProject();
      const valid = fc.record({
        name: fc.constantFrom("App", "Web app"),
        platform: fc.constantFrom("ios", "android", "web"),
      });
      const shapes = fc.record(
        {
          name: fc.oneof(nastyString, fc.constantFrom("x".repeat(100), "x".repeat(101))),
          platform: fc.oneof(fc.constantFrom("ios", "IOS", "windows", "constructor"), nastyString),
        },
        { requiredKeys: [] },
      );
      const projectSegment = fc.oneof(
        { weight: 4, arbitrary: fc.constant(p.projectId) },
        { weight: 1, arbitrary: fc.constant(p.projectId.toUpperCase()) },
        { weight: 2, arbitrary: segment },
      );
      const requests = fc
        .tuple(projectSegment, bodies(valid, { maxBytes: MiB, shapes }))
        .map(([id, body]) =>
          req({ method: "POST", path: `/v1/admin/projects/${id}/apps`, headers: adminHeaders, body }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "GET /v1/admin/projects/{project_id}",
    async () => {
      const p = await createProject();
      const requests = fc
        .tuple(
          fc.oneof(fc.constant(p.projectId), fc.constant(p.projectId.toUpperCase()), segment),
          fc.option(queryString(nastyString)),
        )
        .map(([id, query]) =>
          req({
            method: "GET",
            path: `/v1/admin/projects/${id}${query === null ? "" : `?${query}`}`,
            headers: adminHeaders,
          }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );
});
