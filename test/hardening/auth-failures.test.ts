import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createProject, type Project } from "../support/harness";

/** The failures a client address or the admin token may spend in a window (wrangler.toml AUTH_FAILURE_LIMITER). */
const BUDGET = 30;

async function statuses(n: number, request: () => Promise<Response>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await request()).status);
  return out;
}

describe("failed authentication is rate limited before any look-up", () => {
  // Created before the admin token's budget is spent by the tests below.
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  it("wrong admin tokens from one address end in 429 with Retry-After", async () => {
    const guesses = await statuses(BUDGET + 5, () =>
      call("GET", "/v1/admin/dead-letters", {
        headers: { Authorization: "Bearer guess", "CF-Connecting-IP": "198.51.100.7" },
      }),
    );
    expect(guesses.slice(0, BUDGET - 1).every((s) => s === 401)).toBe(true);
    expect(guesses.slice(BUDGET + 1).every((s) => s === 429)).toBe(true);
    const res = await call("GET", "/v1/admin/dead-letters", {
      headers: { Authorization: "Bearer guess", "CF-Connecting-IP": "198.51.100.7" },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
  });

  it("made-up REST keys from one address end in 429, and another address is not held back", async () => {
    const fake = `rest_${crypto.randomUUID()}_${"A".repeat(43)}`;
    const guesses = await statuses(BUDGET + 5, () =>
      call("GET", "/v1/audiences", {
        headers: { Authorization: `Bearer ${fake}`, "X-Project-Id": p.projectId, "CF-Connecting-IP": "203.0.113.9" },
      }),
    );
    expect(guesses.at(-1)).toBe(429);
    const other = await call("GET", "/v1/audiences", {
      headers: {
        Authorization: `Bearer ${p.restKey}`,
        "X-Project-Id": p.projectId,
        "CF-Connecting-IP": "203.0.113.10",
      },
    });
    expect(other.status).toBe(200);
  });

  it("the admin token is a target of its own: guesses spread over many addresses end in 429", async () => {
    const guesses = await statuses(BUDGET + 5, () =>
      call("GET", "/v1/admin/dead-letters", {
        headers: { Authorization: "Bearer guess", "CF-Connecting-IP": `192.0.2.${Math.floor(Math.random() * 250)}` },
      }),
    );
    expect(guesses.at(-1)).toBe(429);
    // The real token is held back too while the window lasts: a lock-out, said in docs/decisions.md.
    const real = await call("GET", "/v1/admin/dead-letters", {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "CF-Connecting-IP": "192.0.2.251" },
    });
    expect(real.status).toBe(429);
  });
});
