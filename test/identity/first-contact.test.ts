import { describe, expect, it, vi } from "vitest";
import { failOnce } from "../support/faults";
import { call, createProject, restHeaders } from "../support/harness";
import {
  attributes,
  batch,
  customIdStub,
  event,
  installationStub,
  querySql,
  readWorld,
  sendBatch,
} from "../support/identity";

describe("an SDK first contact of data ops", () => {
  it("is one commit: a failure while storing its profile and events leaves no installation, and the retry makes one", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const stub = installationStub(p.projectId, i);
    const ops = [event("app_open", { n: 1 })];
    // Its events are in its profile's row (docs/decisions.md, "A profile's recent events in its row").
    await failOnce(stub, "INSERT INTO profiles");
    const failed = await sendBatch(p, i, ops);
    expect(failed.status).toBe(500);
    // Nothing of the call stayed: no installation, no profile, no history, nothing owed the queues.
    for (const table of ["installation", "profiles", "history", "commits"]) {
      expect(await querySql(stub, `SELECT * FROM ${table}`), table).toEqual([]);
    }
    const answer = await batch(p, i, ops);
    expect(answer.accepted).toBe(1);
    expect(await querySql(stub, "SELECT profile_id FROM profiles")).toEqual([{ profile_id: answer.profile_id }]);
    // Its first history entry is in its row (`origin`), written with it.
    expect(await querySql(stub, "SELECT origin ->> '$.kind' AS kind FROM profiles")).toEqual([{ kind: "created" }]);
    const world = await readWorld(p.projectId, [i], []);
    expect(world.installations.get(i)?.profileId).toBe(answer.profile_id);
  });

  it("acknowledges its retry as duplicates, on the profile it made", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const ops = [event("app_open", { n: 1 }), event("screen", { n: 2 })];
    const answer = await batch(p, i, ops);
    expect(answer).toMatchObject({ accepted: 2, duplicates: 0 });
    const again = await batch(p, i, ops);
    expect(again).toMatchObject({ profile_id: answer.profile_id, accepted: 0, duplicates: 2 });
    const stub = installationStub(p.projectId, i);
    // Its first history entry is in its row (`origin`), written with it.
    expect(await querySql(stub, "SELECT origin ->> '$.kind' AS kind FROM profiles")).toEqual([{ kind: "created" }]);
  });
});

describe("a profile created with its first data", () => {
  it("is one row written once, as the create and the update would have left it", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const answer = await batch(p, i, [attributes({ plan: "pro" }), event("app_open", { n: 1 })]);
    const stub = installationStub(p.projectId, i);
    const [row] = await querySql(
      stub,
      "SELECT custom_id, state, created_at, last_activity_at, version, events_held, attributes ->> '$.plan[1]' AS plan FROM profiles",
    );
    expect(row).toMatchObject({ custom_id: null, state: "active", version: 3, events_held: 1, plan: "pro" });
    expect(row?.last_activity_at).toBe(row?.created_at);
    expect(await querySql(stub, "SELECT profile_id FROM profiles")).toEqual([{ profile_id: answer.profile_id }]);
  });

  it("keeps its custom ID when the Profile API creates it", async () => {
    const p = await createProject();
    const customId = `user-${crypto.randomUUID()}`;
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: customId }, attributes: { plan: "pro" } }],
    });
    expect(res.status).toBe(202);
    const stub = customIdStub(p.projectId, customId);
    await vi.waitFor(async () => expect(await querySql(stub, "SELECT 1 FROM profiles")).toHaveLength(1));
    const [row] = await querySql(
      stub,
      "SELECT custom_id, state, version, attributes ->> '$.plan[1]' AS plan FROM profiles",
    );
    expect(row).toEqual({ custom_id: customId, state: "active", version: 3, plan: "pro" });
    const [entry] = await querySql(
      stub,
      "SELECT origin ->> '$.kind' AS kind, origin ->> '$.custom_id' AS custom_id, origin ->> '$.source' AS source FROM profiles",
    );
    expect(entry).toEqual({ kind: "created_by_custom_id", custom_id: customId, source: "api" });
  });
});
