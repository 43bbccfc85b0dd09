/**
 * The admin token cannot be guessed through a REST route: a REST route answers it exactly as any
 * wrong key, and a guess there spends the admin token's budget as a guess on an admin route does.
 * In a file of its own: the last test holds the admin token back for the rest of the window.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createProject, errorOf, type Project } from "../support/harness";

/** The failures the admin token may spend in a window (wrangler.toml AUTH_FAILURE_LIMITER). */
const BUDGET = 30;

describe("REST routes and the admin token", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  it("answer the admin token as any wrong value: same status, code and message", async () => {
    const answers = [];
    for (const token of [ADMIN_TOKEN, `${ADMIN_TOKEN}x`, "guess"]) {
      for (const [method, path] of [
        ["GET", "/v1/audiences"],
        ["GET", "/v1/webhooks"],
        ["POST", "/v1/segments/query"],
      ] as const) {
        const res = await call(method, path, {
          headers: { Authorization: `Bearer ${token}`, "X-Project-Id": p.projectId },
          body: method === "POST" ? { where: {} } : undefined,
        });
        const { code, message } = await errorOf(res);
        answers.push({ path, token: token === ADMIN_TOKEN ? "admin" : "wrong", status: res.status, code, message });
      }
    }
    const admin = answers.filter((a) => a.token === "admin");
    expect(admin.every((a) => a.status === 401 && a.code === "UNAUTHORIZED")).toBe(true);
    const wrong = answers.filter((a) => a.token === "wrong");
    for (const a of admin) {
      for (const w of wrong.filter((w) => w.path === a.path)) {
        expect({ status: a.status, code: a.code, message: a.message }).toEqual({
          status: w.status,
          code: w.code,
          message: w.message,
        });
      }
    }
  });

  it("spend the admin token's budget: guesses on a REST route from many addresses hold the admin token back", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET + 5; i++) {
      const res = await call("GET", "/v1/audiences", {
        headers: {
          Authorization: `Bearer guess-${i}`,
          "X-Project-Id": p.projectId,
          "CF-Connecting-IP": `192.0.2.${i + 1}`,
        },
      });
      statuses.push(res.status);
    }
    expect(statuses.at(-1)).toBe(429);
    // Held back on the admin route as after guesses there (a lock-out, docs/decisions.md).
    const real = await call("GET", "/v1/admin/dead-letters", {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "CF-Connecting-IP": "192.0.2.200" },
    });
    expect(real.status).toBe(429);
    // And the REST route answers the real admin token as it answers a guess: held back too.
    const viaRest = await call("GET", "/v1/audiences", {
      headers: {
        Authorization: `Bearer ${ADMIN_TOKEN}`,
        "X-Project-Id": p.projectId,
        "CF-Connecting-IP": "192.0.2.201",
      },
    });
    const guess = await call("GET", "/v1/audiences", {
      headers: { Authorization: "Bearer guess", "X-Project-Id": p.projectId, "CF-Connecting-IP": "192.0.2.202" },
    });
    expect(viaRest.status).toBe(guess.status);
  });
});
