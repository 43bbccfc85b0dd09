import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../src/identity/attributes";
import { createProject } from "../support/harness";
import { attributes, batch, identify, installationStub, opId, querySql } from "../support/identity";

const uuid = () => crypto.randomUUID();

describe("the idempotency window of an installation", () => {
  it("forgets op IDs older than 7 days on a signed-in installation too", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-prune")]);
    const old = Date.now() - LIMITS.idempotencyWindowMs - 60_000;
    await runInDurableObject(installationStub(p.projectId, i), (_o, state) => {
      // An old row comes before the newer ones in the commit log.
      state.storage.sql.exec(
        `INSERT INTO commits (seq, at, profile_id, ops)
         VALUES ((SELECT min(seq) - 1 FROM commits), ?, NULL, '["ancient"]')`,
        old,
      );
    });
    // A woken object prunes at its first write (then at most once a minute).
    await abortAllDurableObjects();
    await batch(p, i, [{ id: opId(), type: "push_optin", opted_in: true }, attributes({ tier: "gold" })]);
    const stub = installationStub(p.projectId, i);
    const held = await querySql(stub, "SELECT op.value AS op_id FROM commits, json_each(ops) AS op");
    expect(held.map((r) => r.op_id)).not.toContain("ancient");
    expect(held.length).toBeGreaterThan(0);
  });
});
