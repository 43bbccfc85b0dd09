import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyOperations } from "../../src/profiles/apply";
import { validateOperations } from "../../src/profiles/operations";
import { call, createProject, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";

describe("clearCustom (Batch's overwrite) follows last update wins", () => {
  it("deletes what was written before it, keeps what was written after it", async () => {
    const p = await createProject();
    const now = Date.now();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        { identifiers: { custom_id: "luw" }, attributes: { old: 1 }, time: at(60_000) },
        {
          identifiers: { custom_id: "luw" },
          attributes: { newer: 2, $email_address: "x@example.com" },
          time: at(1_000),
        },
      ],
    });
    expect(res.status).toBe(202);
    // An overwrite made 30 s ago arrives late: it removes `old` (older) and keeps `newer`.
    const { valid } = validateOperations(
      [{ identifiers: { custom_id: "luw" }, attributes: { kept: 3 }, time: at(30_000) }],
      now,
    );
    for (const item of valid) item.op.clearCustom = true;
    const outcome = await applyOperations(env, p.projectId, valid, {
      requestId: "r-luw",
      receivedAt: new Date(now).toISOString(),
      idPrefix: "r-luw",
    });
    expect(outcome.errors).toEqual([]);
    const attributes = (await profileBy(p, { custom_id: "luw" })).body?.attributes ?? {};
    expect(Object.keys(attributes).sort()).toEqual(["$email_address", "kept", "newer"]);
  });
});
