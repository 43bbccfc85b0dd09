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
      state.storage.sql.exec("INSERT INTO processed (op_id, profile_id, at) VALUES ('ancient', NULL, ?)", old);
    });
    // A woken object prunes at its first write (then at most once a minute).
    await abortAllDurableObjects();
    await batch(p, i, [{ id: opId(), type: "push_optin", opted_in: true }, attributes({ tier: "gold" })]);
    const stub = installationStub(p.projectId, i);
    expect(await querySql(stub, "SELECT op_id FROM processed WHERE op_id = 'ancient'")).toEqual([]);
    expect((await querySql(stub, "SELECT count(*) AS n FROM processed"))[0]?.n).toBeGreaterThan(0);
  });
});
