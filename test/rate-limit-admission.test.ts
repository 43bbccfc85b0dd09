import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { GroupedLimiter } from "../src/lib/admission";
import { RATE_LIMIT_GROUP } from "../src/lib/auth";
import { countingLimiter, envWith } from "./support/counting-d1";
import { BASE, createProject, errorOf, restHeaders } from "./support/harness";

describe("rate limiting with one binding call per group of calls", () => {
  it("asks the binding once per ten REST calls of a key", async () => {
    const p = await createProject();
    const { limiter, calls } = countingLimiter(env.REST_RATE_LIMITER);
    const bindings = envWith(null, { REST_RATE_LIMITER: limiter });
    for (let k = 0; k < 50; k++) {
      const ctx = createExecutionContext();
      const res = await worker.fetch?.(
        new Request(`${BASE}/v1/profiles?custom_id=nobody`, { headers: restHeaders(p) }) as never,
        bindings,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res?.status).toBe(404);
    }
    expect(calls()).toBe(50 / RATE_LIMIT_GROUP);
  });

  it("still refuses a caller over its limit, and refuses the rest of the group without asking again", async () => {
    // The REST namespace allows 100 groups per fixed 10 s window: spend them with one key.
    const { limiter, calls } = countingLimiter(env.REST_RATE_LIMITER);
    const admission = new GroupedLimiter(RATE_LIMIT_GROUP);
    const key = `project:${crypto.randomUUID()}`;
    let admitted = 0;
    let refused = false;
    // At most three windows' worth: a window may end while the budget is being spent.
    for (let k = 0; k < 3 * 1000 + RATE_LIMIT_GROUP && !refused; k++) {
      if (await admission.admit(limiter, key)) admitted++;
      else refused = true;
    }
    expect(refused).toBe(true);
    expect(admitted).toBeGreaterThanOrEqual(1000);
    // Every admitted call was paid for: one binding call per group, plus the one that refused.
    expect(calls()).toBe(admitted / RATE_LIMIT_GROUP + 1);
    // The refusal decides the rest of its group: refused without a binding call.
    const before = calls();
    for (let k = 1; k < RATE_LIMIT_GROUP; k++) expect(await admission.admit(limiter, key)).toBe(false);
    expect(calls()).toBe(before);
  });

  it("shares one binding call among concurrent calls of a key", async () => {
    const { limiter, calls } = countingLimiter(env.SDK_RATE_LIMITER);
    const admission = new GroupedLimiter(RATE_LIMIT_GROUP);
    const key = `app:${crypto.randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 25 }, () => admission.admit(limiter, key)));
    expect(answers.every(Boolean)).toBe(true);
    expect(calls()).toBe(3);
  });

  it("answers the next calls of a key whose binding call never settles", async () => {
    // A call whose request ended first may never settle (src/lib/shared-flight.ts): the calls
    // waiting on it, and every later call of the key, must not wait with it for ever.
    let asked = 0;
    const abandoned: RateLimit = {
      limit: () => (asked++ === 0 ? new Promise(() => {}) : Promise.resolve({ success: true })),
    };
    const admission = new GroupedLimiter(RATE_LIMIT_GROUP, 50);
    const key = `app:${crypto.randomUUID()}`;
    void admission.admit(abandoned, key);
    const answers = await Promise.all(Array.from({ length: 5 }, () => admission.admit(abandoned, key)));
    expect(answers).toEqual([true, true, true, true, true]);
    // Each waiter gave up on the stuck call after 50 ms: at most one more binding call each.
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(asked).toBeLessThanOrEqual(6);
  });

  it("answers 429 RATE_LIMITED once the binding refuses, with no work done", async () => {
    const p = await createProject();
    const refusing: RateLimit = { limit: async () => ({ success: false }) };
    const ctx = createExecutionContext();
    const res = await worker.fetch?.(
      new Request(`${BASE}/v1/profiles/update`, {
        method: "POST",
        headers: { ...restHeaders(p), "Content-Type": "application/json" },
        body: "{not json",
      }) as never,
      envWith(null, { REST_RATE_LIMITER: refusing }),
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res?.status).toBe(429);
    expect(res?.headers.get("Retry-After")).toBe("10");
    expect((await errorOf(res as Response)).code).toBe("RATE_LIMITED");
  });
});
