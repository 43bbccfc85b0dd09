/** The Profile API, mass update and request status, fuzzed with a valid key for its scope: test/support/fuzz/check.ts says how. */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { d1State, fuzz, profileApiIds, settle } from "../support/fuzz/check";
import { type BodyOptions, bodies, MiB, queryString, req, segment, TEST_TIMEOUT } from "../support/fuzz/requests";
import { seedProfiles, withRestHeaders } from "../support/fuzz/setup";
import { flatOf, shapedProfileOperations } from "../support/fuzz/shaped";
import { profileOperations } from "../support/fuzz/valid";
import { nastyString } from "../support/fuzz/values";
import { call, createProject, errorOf, restHeaders } from "../support/harness";

/** POSTs of profile operations to `path`, near misses of valid ones against seeded profiles. */
async function fuzzProfileWrites(path: fc.Arbitrary<string>, options: BodyOptions): Promise<void> {
  const p = await createProject();
  const known = await seedProfiles(p);
  const valid = profileOperations({ customId: known.apiCustomId, installation: known.installation });
  const shapes = shapedProfileOperations(known.installation);
  const requests = fc
    .tuple(path, bodies(valid, { ...options, shapes }), withRestHeaders(p))
    .map(([path, body, headers]) => req({ method: "POST", path, headers, body }));
  await fuzz(requests, { projectId: p.projectId, ids: profileApiIds, async: true });
}

describe("fuzz: never a 5xx, always the envelope, nothing written on a refusal", () => {
  it(
    "GET /v1/profiles?<query>",
    async () => {
      const p = await createProject();
      const known = await seedProfiles(p);
      const values = fc.oneof(
        fc.constantFrom(
          known.customId,
          known.apiCustomId,
          known.installation,
          known.installation.toUpperCase(),
          known.profileId,
          known.profileId.toUpperCase(),
        ),
        fc.uuid(),
        nastyString,
      );
      const exact = fc
        .tuple(
          fc.constantFrom("custom_id", "installation_id", "profile_id"),
          fc.constantFrom(known.customId, known.apiCustomId, known.installation, known.profileId),
          fc.boolean(),
        )
        .map(([key, value, upper]) => `${new URLSearchParams({ [key]: upper ? value.toUpperCase() : value })}`);
      const query = fc.oneof({ weight: 3, arbitrary: queryString(values) }, { weight: 1, arbitrary: exact });
      const requests = fc
        .tuple(fc.constantFrom("/v1/profiles", "/v1/profiles/"), query, withRestHeaders(p))
        .map(([path, query, headers]) => req({ method: "GET", path: `${path}?${query}`, headers }));
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/profiles/update and /2.{minor}/profiles/update",
    () =>
      fuzzProfileWrites(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant("/v1/profiles/update") },
          { weight: 2, arbitrary: fc.nat({ max: 1_000_000 }).map((n) => `/2.${n}/profiles/update`) },
          { weight: 1, arbitrary: fc.constantFrom("/2.99999999999999999999/profiles/update", "/2.01/profiles/update") },
        ),
        { maxBytes: 5 * MiB, repeat: [2, 21, 201] },
      ),
    TEST_TIMEOUT,
  );

  it(
    "POST /v1/profiles/mass-update and /2.{minor}/profiles/mass-update",
    () =>
      fuzzProfileWrites(
        fc.oneof(
          fc.constant("/v1/profiles/mass-update"),
          fc.nat({ max: 1_000 }).map((n) => `/2.${n}/profiles/mass-update`),
        ),
        { repeat: [2, 21, 10_001] },
      ),
    TEST_TIMEOUT,
  );

  it(
    "GET /v1/requests/{request_id}",
    async () => {
      const p = await createProject();
      const queued = await call("POST", "/v1/profiles/mass-update", {
        headers: restHeaders(p),
        body: [{ identifiers: { custom_id: "fz-mass" }, attributes: { plan: "pro" } }],
      });
      expect(queued.status).toBe(202);
      const { request_id } = await queued.json<{ request_id: string }>();
      await settle();
      const requests = fc
        .tuple(
          fc.oneof(fc.constant(request_id), fc.constant(request_id.toUpperCase()), segment),
          fc.option(queryString(nastyString)),
          withRestHeaders(p),
        )
        .map(([id, query, headers]) =>
          req({ method: "GET", path: `/v1/requests/${id}${query === null ? "" : `?${query}`}`, headers }),
        );
      await fuzz(requests, { projectId: p.projectId });
    },
    TEST_TIMEOUT,
  );
});

describe("regressions for bugs the fuzz runs found", () => {
  it("a mass-update operation larger than a queue message is refused, not a 500 (mass-update-oversized-message)", async () => {
    // Was: the ~140 KB operation became one queue message over 128 KB; sendBatch threw, the
    // answer was a 500 and a `requests` row marked failed was left behind.
    const p = await createProject();
    const events = Array.from({ length: 5 }, (_, i) => ({ name: `e${i}`, attributes: { o: flatOf(90) } }));
    const big = { identifiers: { custom_id: "fz-big" }, events };
    const before = await d1State();
    const alone = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body: [big] });
    expect(alone.status).toBe(400);
    await errorOf(alone);
    expect(await d1State()).toEqual(before);

    const small = { identifiers: { custom_id: "fz-small" }, attributes: { plan: "pro" } };
    const mixed = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body: [small, big] });
    expect(mixed.status).toBe(202);
    const answer = await mixed.json<{ code: string; errors: { bulk_index: number }[] }>();
    expect(answer.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(answer.errors.map((e) => e.bulk_index)).toEqual([1]);
    await settle();
    const failed = await env.DB.prepare(
      "SELECT count(*) AS n FROM requests WHERE project_id = ? AND failure IS NOT NULL",
    )
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(failed?.n).toBe(0);
  });
});
