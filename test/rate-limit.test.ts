import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "./support/harness";

/**
 * Calls with the project's REST key until the first refusal, and returns it. The budget is 1,000
 * calls per fixed 10 s window per project (wrangler.toml). Waves of concurrent calls fill a
 * window quickly however slow the machine.
 */
async function spendBudget(p: Project): Promise<Response | null> {
  let limited: Response | null = null;
  for (let wave = 0; wave < 40 && !limited; wave++) {
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => call("GET", "/v1/profiles?custom_id=nobody", { headers: restHeaders(p) })),
    );
    for (const res of responses) {
      if (res.status === 429 && !limited) limited = res;
      else {
        expect([404, 429]).toContain(res.status);
        await res.body?.cancel();
      }
    }
  }
  return limited;
}

describe("rate limiting per key", () => {
  it("answers 429 RATE_LIMITED with Retry-After once a REST key spends its budget, and keeps other keys apart", async () => {
    const p = await createProject();
    const other = await createProject();
    const limited = await spendBudget(p);
    expect(limited).not.toBeNull();
    expect(limited?.headers.get("Retry-After")).toBe("10");
    expect((await errorOf(limited as Response)).code).toBe("RATE_LIMITED");

    // A refused call does no work: not even a body is read. Windows are fixed: if one ended
    // between the refusal and this call, spend the next one and ask again.
    const malformed = () => call("POST", "/v1/profiles/update", { headers: restHeaders(p), raw: "{not json" });
    let refused = await malformed();
    if (refused.status !== 429) {
      await spendBudget(p);
      refused = await malformed();
    }
    expect(refused.status).toBe(429);

    const elsewhere = await call("GET", "/v1/profiles?custom_id=nobody", { headers: restHeaders(other) });
    expect(elsewhere.status).toBe(404);
  }, 120_000);
});
